/**
 * `npm run chaos`: the reliability suite. Starts a control plane of its own, runs every scenario (chaos/scenarios.ts)
 * against the Converge operator and, where meaningful, the controller-runtime peer side by side, and prints one table:
 * faults injected, effects lost and duplicated, leader overlap, takeover, time to converge after the fault, requests
 * per second during it. Exits 1 when any invariant broke. `--quick` is the CI-sized run.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildGoProgram } from "../bench/peers/index.ts";
import { Client } from "../src/client/index.ts";
import { ControlPlane } from "../src/cluster/control-plane.ts";
import { runtimeNodeFlags } from "../src/generate/build.ts";
import { apiextensionsv1, corev1 } from "../src/types/index.ts";
import { judge, type ScenarioResult, scenarios, sizes } from "./scenarios.ts";
import { Task } from "./task.ts";
import { type PeerLauncher, type PeerName, World } from "./world.ts";

const usage = `Usage: npm run chaos [-- options]

Runs the chaos scenarios on a local control plane and prints what each fault did to the invariants.

Options:
  --quick                the CI-sized run (a few minutes): fewer tasks, shorter faults
  --scenarios <a,b,...>  only these scenarios (default: all): ${scenarios.map((s) => s.name).join(", ")}
  --peers <a,b>          converge, controller-runtime (default: both, each where meaningful)
  --out <dir>            where the JSON and Markdown results go (default chaos/results; --quick writes none)
  --help                 this text
`;

const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    scenarios: { type: "string" },
    peers: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean" },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const size = values.quick ? sizes.quick : sizes.full;
const wanted = values.scenarios?.split(",") ?? scenarios.map((s) => s.name);
const unknown = wanted.filter((n) => !scenarios.some((s) => s.name === n));
if (unknown.length) {
  process.stderr.write(`--scenarios: unknown ${unknown.join(", ")}\n`);
  process.exit(2);
}
const peers = (values.peers?.split(",") ?? ["converge", "controller-runtime"]) as PeerName[];
const say = (line: string) => process.stdout.write(`${line}\n`);
const lease = "4000/3000/500";
const workers = 4;

const root = join(import.meta.dirname, "..");
const launchers = new Map<PeerName, PeerLauncher>();
if (peers.includes("converge")) {
  launchers.set("converge", {
    name: "converge",
    command: process.execPath,
    args: [...runtimeNodeFlags, join(import.meta.dirname, "operator.ts")],
  });
}
if (peers.includes("controller-runtime")) {
  const binary = await buildGoProgram(
    join(import.meta.dirname, "peers", "controller-runtime"),
    "chaos-controller-runtime",
    say,
  );
  launchers.set("controller-runtime", { name: "controller-runtime", command: binary, args: [] });
}

const started = Date.now();
const dir = await mkdtemp(join(tmpdir(), "converge-chaos-"));
say(`chaos ${values.quick ? "(quick) " : ""}on a local plane; logs in ${dir}`);
// Frequent compaction, so that resumed watches meet 410 Gone for real too.
const plane = await ControlPlane.start({
  name: "chaos",
  mode: "minimal",
  apiserverArgs: ["--etcd-compaction-interval=10s"],
  log: (l) => say(`  ${l}`),
});
const client = await Client.connect({ kubeconfig: plane.kubeconfigPath, fieldManager: "chaos-harness" });
await client.apply(apiextensionsv1.CustomResourceDefinition, Task.crd(), { force: true });
await waitServed();

const results: ScenarioResult[] = [];
try {
  for (const scenario of scenarios.filter((s) => wanted.includes(s.name))) {
    const runs = scenario.peers.filter(
      (p) => launchers.has(p) && (!values.quick || p === "converge" || scenario.compareInQuick),
    );
    for (const peer of runs) {
      const launcher = launchers.get(peer) as PeerLauncher;
      const namespace = `chaos-${scenario.name}-${peer === "converge" ? "cv" : "cr"}`.slice(0, 63);
      await client.create(corev1.Namespace, { metadata: { name: namespace } });
      const world = new World({
        client,
        credentials: plane.credentials,
        namespace,
        peer: launcher,
        dir,
        lease,
        workers,
      });
      const t0 = Date.now();
      say(`- ${scenario.name} (${peer}): ${scenario.title}`);
      try {
        const r = await judge(scenario, world, size, plane);
        results.push(r);
        say(
          `  ${r.failures.length ? `FAILED: ${r.failures.join("; ")}` : "ok"} in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
        );
      } catch (err) {
        results.push({
          scenario: scenario.name,
          peer,
          faults: "-",
          lost: 0,
          duplicates: 0,
          overlapMs: 0,
          leaderChanges: 0,
          convergeS: undefined,
          requestsPerS: 0,
          notes: [],
          failures: [`the scenario failed: ${(err as Error).message}`],
        });
        say(`  FAILED: ${(err as Error).message}`);
      } finally {
        await world.stop();
        await client.delete(corev1.Namespace, namespace).catch(() => undefined);
      }
    }
  }
} finally {
  await client.close();
  await plane.stop();
}

const table = render(results);
say("");
say(table);
// The suite checks Converge's guarantees: a peer's broken invariant is a finding about the peer, reported in the
// table, and only Converge's fail the run.
const failed = results.filter((r) => r.failures.length > 0 && r.peer === "converge");
const peersFailed = results.filter((r) => r.failures.length > 0 && r.peer !== "converge");
say(
  `\n${results.length} runs in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
    (failed.length ? `${failed.length} of Converge's broke an invariant` : "Converge held every invariant") +
    (peersFailed.length
      ? `; the peers broke ${peersFailed.length} (${peersFailed.map((r) => `${r.scenario} ${r.peer}`).join(", ")})`
      : ""),
);
if (!values.quick || values.out) {
  const out = values.out ?? join(root, "chaos", "results");
  await mkdir(out, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  const command = `npm run chaos${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  await writeFile(
    join(out, `${stamp}.json`),
    `${JSON.stringify({ command, size, lease, workers, results }, null, 2)}\n`,
  );
  await writeFile(join(out, `${stamp}.md`), `# Chaos run ${stamp}\n\n\`${command}\`\n\n${table}\n`);
  say(`results: ${join(out, stamp)}.{json,md}`);
}
if (!process.env.CHAOS_KEEP) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
process.exit(failed.length ? 1 : 0);

function render(rows: readonly ScenarioResult[]): string {
  const head = [
    "scenario",
    "peer",
    "faults injected",
    "lost",
    "dup",
    "leader overlap ms",
    "takeover s",
    "converge s",
    "req/s in fault",
    "notes",
  ];
  const lines = rows.map((r) => [
    r.scenario,
    r.peer,
    r.faults,
    String(r.lost),
    String(r.duplicates),
    String(r.overlapMs),
    r.takeoverS === undefined ? "-" : r.takeoverS.toFixed(1),
    r.convergeS === undefined ? "never" : r.convergeS.toFixed(1),
    r.requestsPerS.toFixed(0),
    [...r.failures.map((f) => `FAILED: ${f}`), ...r.notes].join("; "),
  ]);
  const md = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [md(head), md(head.map(() => "---")), ...lines.map(md)].join("\n");
}

async function waitServed(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await client.list(Task, { namespace: "default", limit: 1 }).then(
      () => true,
      () => false,
    );
    if (ok) {
      // New kinds are held for 2 s after they become Established (see bench/crd.ts).
      await new Promise((r) => setTimeout(r, 2_500));
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the Task CRD was not served");
}
