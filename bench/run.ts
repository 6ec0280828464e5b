/**
 * `npm run bench`: Converge side by side with controller-runtime, kopf and a hand-written @kubernetes/client-node
 * operator, and beside the limit (a trivial client-go write loop), on one control plane per N. Every peer is a
 * plain process measured from outside. Tables go to stdout, progress to stderr, and a JSON file, a Markdown
 * report and SVG plots to bench/results/. Figures only: nothing here asserts a timing. See bench/README.md.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, platform, release, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "../src/client/index.ts";
import { ControlPlane } from "../src/cluster/index.ts";
import { buildOperator, runtimeNodeFlags } from "../src/generate/build.ts";
import { installBench } from "./crd.ts";
import type { BenchReport, PeerInfo, PeerRun, SizeResult } from "./figures.ts";
import { runLimit } from "./limit.ts";
import { Ledger } from "./metrics.ts";
import type { Command } from "./peer-process.ts";
import { fillRatios, markdownReport, stdoutTables } from "./report.ts";
import { latencyChart, memoryChart } from "./svg.ts";
import { type BenchContext, type PeerUnderTest, pinApiserver, runPeer } from "./workloads.ts";

const usage = `Usage: node bench/run.ts [options]   (npm run bench -- [options])

Runs Converge's benchmark operator and its peers (controller-runtime, kopf, @kubernetes/client-node) one after
another on one minimal control plane per N, through workloads W1-W5, and the limit (a raw client-go write loop).
Prints a table per workload with the ratios Converge/peer; writes <out>/<date>.json, <date>.md and SVG plots.

Options:
  --n <list>              object counts, comma-separated (default 1000,10000)
  --quick                 N = 1000, W1 and W2 only
  --workloads <list>      any of w1,w2,w3,w4,w5 (default all)
  --peers <list>          any of converge,controller-runtime,kopf,client-node (default all)
  --workers <list>        concurrency of every peer (default 1,4)
  --best <n>              also run every peer at this concurrency (Converge's best), 0 for none (default 16)
  --repeat <n>            run every peer at every concurrency n times, interleaved; ratios and targets compare
                          the medians (default 1)
  --limit-workers <n>     the limit's goroutines (default: the highest concurrency run)
  --churn-rates <list>    W3's update rates per second (default 10,50,100,200)
  --churn-seconds <s>     W3's time per rate (default 15)
  --resync-seconds <s>    W4's resync period (default 10)
  --idle-seconds <s>      W4's observation window (default 60)
  --settle-seconds <s>    pause before each timed phase and before settled figures (default 2)
  --out <dir>             where the report goes (default bench/results)
  --no-pin                do not pin the apiserver and the operator to different CPUs
  --peers-module <file>   a module exporting preparePeers() (default bench/peers/index.ts)
  --node-flags=<flags>    the Converge peer's Node flags, space-separated, instead of those its image runs with
                          (for trying runtime settings; the report names them)
  --cpu-prof <dir>        write CPU profiles of the Converge peer (V8), the controller-runtime peer (pprof) and the
                          apiserver during W2 (pprof, apiserver-w2-<run>-*.pb.gz) into <dir>
  --require-peers         exit 1 when a peer cannot be prepared or a workload fails (for tests)
  --help                  this text
`;

const allPeers = ["converge", "controller-runtime", "kopf", "client-node"];
const allWorkloads = ["w1", "w2", "w3", "w4", "w5"];
const root = resolve(import.meta.dirname, "..");
/**
 * The apiserver's concurrency limits (defaults 400 and 200), raised so that the plane's admission of requests is
 * never what a peer measures; see bench/README.md.
 */
const apiserverArgs = ["--max-requests-inflight=2000", "--max-mutating-requests-inflight=1000"];

const startedAt = performance.now();
/** Progress on stderr, each line with the minutes and seconds since the start. */
const log = (line: string) => {
  const s = Math.floor((performance.now() - startedAt) / 1000);
  process.stderr.write(`[${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}] ${line}\n`);
};

/** A mistake on the command line: reported without a stack trace, exit 2. */
class UsageError extends Error {}

interface Options {
  sizes: number[];
  workloads: string[];
  peers: string[];
  workers: number[];
  best: number;
  repeat: number;
  limitWorkers: number;
  churnRates: number[];
  churnSeconds: number;
  resyncSeconds: number;
  idleSeconds: number;
  settleSeconds: number;
  out: string;
  pin: boolean;
  peersModule: string;
  requirePeers: boolean;
  cpuProf: string | undefined;
  nodeFlags: readonly string[];
}

function positiveInt(value: string | undefined, flag: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new UsageError(`${flag}: expected a ${allowZero ? "non-negative" : "positive"} integer, got "${value}"`);
  }
  return n;
}

function list(value: string, flag: string, allowed?: readonly string[]): string[] {
  const items = value
    .split(",")
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag}: expected a comma-separated list`);
  for (const item of items) {
    if (allowed && !allowed.includes(item))
      throw new UsageError(`${flag}: "${item}" is not one of ${allowed.join(", ")}`);
  }
  return [...new Set(items)];
}

function readOptions(argv: string[]): Options | undefined {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const quick = values.quick;
  const sizes = quick ? [1000] : list(values.n ?? "1000,10000", "--n").map((v) => positiveInt(v, "--n"));
  const workloads = quick
    ? ["w1", "w2"]
    : list(values.workloads ?? allWorkloads.join(","), "--workloads", allWorkloads);
  const workers = list(values.workers ?? "1,4", "--workers").map((v) => positiveInt(v, "--workers"));
  const best = positiveInt(values.best ?? "16", "--best", true);
  const limitWorkers = positiveInt(values["limit-workers"] ?? String(Math.max(best, ...workers)), "--limit-workers");
  return {
    sizes,
    workloads,
    peers: list(values.peers ?? allPeers.join(","), "--peers", allPeers),
    workers,
    best,
    repeat: positiveInt(values.repeat ?? "1", "--repeat"),
    limitWorkers,
    churnRates: list(values["churn-rates"] ?? "10,50,100,200", "--churn-rates").map((v) =>
      positiveInt(v, "--churn-rates"),
    ),
    churnSeconds: positiveInt(values["churn-seconds"] ?? "15", "--churn-seconds"),
    resyncSeconds: positiveInt(values["resync-seconds"] ?? "10", "--resync-seconds"),
    idleSeconds: positiveInt(values["idle-seconds"] ?? "60", "--idle-seconds"),
    settleSeconds: positiveInt(values["settle-seconds"] ?? "2", "--settle-seconds", true),
    out: resolve(values.out ?? join(root, "bench", "results")),
    pin: !values["no-pin"],
    peersModule: resolve(values["peers-module"] ?? join(root, "bench", "peers", "index.ts")),
    requirePeers: values["require-peers"],
    cpuProf: values["cpu-prof"] ? resolve(values["cpu-prof"]) : undefined,
    nodeFlags:
      values["node-flags"] !== undefined ? values["node-flags"].split(/\s+/).filter(Boolean) : runtimeNodeFlags,
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      n: { type: "string" },
      quick: { type: "boolean", default: false },
      workloads: { type: "string" },
      peers: { type: "string" },
      workers: { type: "string" },
      best: { type: "string" },
      repeat: { type: "string" },
      "limit-workers": { type: "string" },
      "churn-rates": { type: "string" },
      "churn-seconds": { type: "string" },
      "resync-seconds": { type: "string" },
      "idle-seconds": { type: "string" },
      "settle-seconds": { type: "string" },
      out: { type: "string" },
      "no-pin": { type: "boolean", default: false },
      "peers-module": { type: "string" },
      "require-peers": { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      "node-flags": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
}

/** The shape of bench/peers/index.ts, read structurally so that a missing module is a report line, not a crash. */
interface PeersModule {
  preparePeers(
    log: (line: string) => void,
  ): Promise<{ peers: Array<Command & { name: string; description: string; settings: string[] }>; limit: Command }>;
}

interface Prepared {
  peers: Map<string, PeerUnderTest>;
  info: PeerInfo[];
  limit: Command | undefined;
  limitUnavailable: string | undefined;
}

function convergePeer(nodeFlags: readonly string[]): PeerInfo {
  const asImage = nodeFlags.join(" ") === runtimeNodeFlags.join(" ");
  return {
    name: "converge",
    description: `Converge (Node ${process.version})`,
    settings: [
      asImage
        ? `run as its generated Dockerfile runs it: bundled by \`converge build\` and started with \`node ${runtimeNodeFlags.join(" ")}\``
        : `bundled by \`converge build\` and started with \`node ${nodeFlags.join(" ")}\` (--node-flags; its image runs \`node ${runtimeNodeFlags.join(" ")}\`)`,
      "log level warn, to stderr (default info, to stdout): stdout stays empty, as the contract asks",
      "shutdownTimeoutMs 4 s (default 30 s): the contract asks for an exit within 5 s of SIGTERM",
    ],
  };
}

async function preparePeers(opts: Options): Promise<Prepared> {
  const prepared: Prepared = { peers: new Map(), info: [], limit: undefined, limitUnavailable: undefined };
  if (opts.peers.includes("converge")) {
    // Inside the repository, so that the bundle's packages resolve from its node_modules.
    // Every package bundled, as in an operator project, which declares only converge-sdk: its dependencies go into
    // the bundle (the official client's exec-plugin support as a chunk loaded on first use).
    const built = await buildOperator({
      dir: root,
      entry: "bench/peers/converge/operator.ts",
      outDir: "bench/.build/converge",
      external: [],
    });
    log(`converge: bundled in ${(built.milliseconds / 1000).toFixed(1)} s`);
    const profile = opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProf}`] : [];
    prepared.peers.set("converge", {
      name: "converge",
      command: { command: process.execPath, args: [...opts.nodeFlags, ...profile, built.outFile] },
    });
    prepared.info.push(convergePeer(opts.nodeFlags));
  }
  const others = opts.peers.filter((p) => p !== "converge");
  try {
    log(`preparing peers (${[...others, "limit"].join(", ")}) with ${opts.peersModule}`);
    const mod = (await import(pathToFileURL(opts.peersModule).href)) as PeersModule;
    const { peers, limit } = await mod.preparePeers(log);
    prepared.limit = limit;
    for (const name of others) {
      const p = peers.find((x) => x.name === name);
      if (!p) {
        prepared.info.push({ name, description: name, settings: [], unavailable: "preparePeers() did not return it" });
        continue;
      }
      // The Go peer writes a pprof CPU profile beside Converge's V8 ones, for the same breakdown.
      const env =
        opts.cpuProf && name === "controller-runtime" ? { ...p.env, BENCH_CPU_PROFILE_DIR: opts.cpuProf } : p.env;
      prepared.peers.set(name, {
        name,
        command: { command: p.command, args: p.args, ...(env ? { env } : {}) },
      });
      prepared.info.push({ name, description: p.description, settings: p.settings });
    }
  } catch (err) {
    const why = `preparing the peers failed: ${(err as Error).message}`;
    log(why);
    prepared.limitUnavailable = why;
    for (const name of others) prepared.info.push({ name, description: name, settings: [], unavailable: why });
  }
  return prepared;
}

/** tmpfs for etcd's data (every write of etcd lands in memory), else the usual temporary directory. */
async function planeDir(): Promise<{ dir: string; onTmpfs: boolean }> {
  try {
    return { dir: await mkdtemp("/dev/shm/converge-bench-"), onTmpfs: true };
  } catch {
    const { tmpdir } = await import("node:os");
    return { dir: await mkdtemp(join(tmpdir(), "converge-bench-")), onTmpfs: false };
  }
}

/** The apiserver on the first half of the CPUs, operators on the other half; undefined when that is impossible. */
async function pinning(enabled: boolean): Promise<BenchContext["pin"]> {
  const n = availableParallelism();
  if (!enabled || n < 2 || platform() !== "linux") return undefined;
  const { execFileSync } = await import("node:child_process");
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  const half = Math.floor(n / 2);
  const range = (a: number, b: number) => (a === b ? String(a) : `${a}-${b}`);
  return { apiserver: range(0, half - 1), operator: range(half, n - 1) };
}

async function runSize(
  n: number,
  opts: Options,
  prepared: Prepared,
  shared: { pin: BenchContext["pin"]; logDir: string },
  report: BenchReport,
): Promise<SizeResult> {
  const { dir, onTmpfs } = await planeDir();
  log(`== N = ${n}: starting a minimal control plane in ${dir}`);
  // Profiling is off in the plane by default; the apiserver's profile during W2 needs it.
  const args = opts.cpuProf ? [...apiserverArgs, "--profiling=true"] : apiserverArgs;
  const plane = await ControlPlane.start({ mode: "minimal", name: "bench", dir, apiserverArgs: args });
  const client = await Client.connect({ kubeconfig: plane.kubeconfigPath, fieldManager: "bench", connections: 64 });
  const size: SizeResult = { n, limit: undefined, runs: [] };
  try {
    const ctx: BenchContext = {
      plane,
      client,
      ledger: new Ledger(),
      log,
      root,
      logDir: shared.logDir,
      pin: shared.pin,
      workloads: new Set(opts.workloads),
      churnRates: opts.churnRates,
      churnSeconds: opts.churnSeconds,
      resyncSeconds: opts.resyncSeconds,
      idleSeconds: opts.idleSeconds,
      createInFlight: 64,
      settleMs: opts.settleSeconds * 1000,
      ...(opts.cpuProf ? { apiserverProfileDir: opts.cpuProf } : {}),
    };
    pinApiserver(ctx);
    if (report.machine.kubeApiserver === "unknown")
      await describePlane(plane, client, report, onTmpfs ? dir : undefined);
    await installBench(client, []);

    const configs: Array<[string, number]> = [];
    for (const w of opts.workers) for (const p of opts.peers) if (prepared.peers.has(p)) configs.push([p, w]);
    // Converge's best setting, and every other peer beside it there: no ratio without its counterpart.
    if (opts.best > 0 && !opts.workers.includes(opts.best)) {
      for (const p of opts.peers) if (prepared.peers.has(p)) configs.push([p, opts.best]);
    }
    // Repeated runs interleave (every peer at every concurrency, then again), so that a drift of the machine or
    // the plane over the hour spreads over all of them rather than landing on one.
    for (let round = 1; round <= opts.repeat; round++) {
      for (const [name, workers] of configs) {
        log(`-- N = ${n}: ${name} ×${workers}${opts.repeat > 1 ? ` (run ${round} of ${opts.repeat})` : ""}`);
        const peer = prepared.peers.get(name) as PeerUnderTest;
        size.runs.push(await runPeer(ctx, peer, workers, n, opts.repeat > 1 ? round : undefined));
      }
    }
    if (prepared.limit) {
      log(`-- N = ${n}: the limit, ${opts.limitWorkers} goroutines`);
      size.limit = await runLimit(ctx, prepared.limit, opts.limitWorkers, n).catch((err: Error) => {
        size.limitUnavailable = `the limit failed: ${err.message}`;
        log(size.limitUnavailable);
        return undefined;
      });
    } else {
      size.limitUnavailable = prepared.limitUnavailable ?? "no limit";
    }
  } finally {
    await client.close();
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
    log(`== N = ${n}: control plane stopped`);
  }
  fillRatios(size);
  return size;
}

async function describePlane(plane: ControlPlane, client: Client, report: BenchReport, tmpfsDir: string | undefined) {
  const apiserver = await client.transport.json<{ gitVersion?: string }>({ method: "GET", path: "/version" });
  const etcdPort = plane.state().components.find((c) => c.name === "etcd")?.ports.client;
  const etcd = (await fetch(`http://127.0.0.1:${etcdPort}/version`).then((r) => r.json())) as { etcdserver?: string };
  report.machine.kubeApiserver = apiserver.gitVersion ?? "unknown";
  report.machine.etcd = etcd.etcdserver ?? "unknown";
  report.machine.etcdDataDir = tmpfsDir ? "tmpfs (/dev/shm)" : "disk (no /dev/shm)";
}

/**
 * Formats a JSON report inside the repository as `npm run check` expects it (when the formatter is installed: it is
 * a dev dependency). Reports written elsewhere are left as they are.
 */
async function formatLikeTheRepository(file: string): Promise<void> {
  if (!file.startsWith(`${root}/`)) return;
  const { execFile } = await import("node:child_process");
  const biome = join(root, "node_modules", ".bin", "biome");
  await new Promise<void>((done) => execFile(biome, ["format", "--write", file], () => done()));
}

function dateStamp(d: Date): string {
  return d.toISOString().slice(0, 16).replace(":", "").replace("T", "-");
}

async function main(argv: string[]): Promise<number> {
  const opts = readOptions(argv);
  if (!opts) {
    process.stdout.write(usage);
    return 0;
  }
  const started = new Date();
  const pin = await pinning(opts.pin);
  const report: BenchReport = {
    date: started.toISOString(),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model.trim() ?? "unknown",
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
      platform: `${platform()} ${release()}`,
      kubeApiserver: "unknown",
      etcd: "unknown",
      pinning: pin ? `kube-apiserver on CPU ${pin.apiserver}, operators on CPU ${pin.operator} (taskset)` : "none",
      etcdDataDir: "",
    },
    options: {
      sizes: opts.sizes,
      workers: opts.workers,
      bestWorkers: opts.best || undefined,
      repeat: opts.repeat,
      workloads: opts.workloads,
      churnRates: opts.churnRates,
      churnSeconds: opts.churnSeconds,
      resyncSeconds: opts.resyncSeconds,
      idleSeconds: opts.idleSeconds,
    },
    peers: [],
    sizes: [],
    seconds: 0,
  };
  const prepared = await preparePeers(opts);
  report.peers = prepared.info;
  const stamp = dateStamp(started);
  const logDir = join(opts.out, "logs", stamp);
  await mkdir(logDir, { recursive: true });
  for (const n of opts.sizes) report.sizes.push(await runSize(n, opts, prepared, { pin, logDir }, report));
  report.seconds = (Date.now() - started.getTime()) / 1000;

  process.stdout.write(`${stdoutTables(report).join("\n")}\n`);
  const files = {
    json: join(opts.out, `${stamp}.json`),
    md: join(opts.out, `${stamp}.md`),
    latency: `${stamp}-latency.svg`,
    memory: `${stamp}-memory.svg`,
  };
  const charts = { latency: latencyChart(report), memory: memoryChart(report) };
  if (charts.latency) await writeFile(join(opts.out, files.latency), charts.latency);
  if (charts.memory) await writeFile(join(opts.out, files.memory), charts.memory);
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  await formatLikeTheRepository(files.json);
  await writeFile(
    files.md,
    markdownReport(report, {
      latency: charts.latency ? files.latency : undefined,
      memory: charts.memory ? files.memory : undefined,
    }).join("\n"),
  );
  log(`report: ${files.md} (JSON: ${files.json}; peer logs: ${logDir}); ${report.seconds.toFixed(0)} s in all`);
  if (opts.requirePeers) {
    const missing = report.peers.filter((p) => p.unavailable).map((p) => `${p.name}: ${p.unavailable}`);
    const problems = report.sizes.flatMap((s) => [
      ...s.runs.flatMap((r: PeerRun) => r.problems.map((p) => `${r.peer} ×${r.workers}: ${p}`)),
      ...s.runs.flatMap((r: PeerRun) =>
        (["w1", "w2", "w3", "w4", "w5"] as const).flatMap((w) =>
          r[w]?.failure ? [`${r.peer} ×${r.workers} ${w}: ${r[w]?.failure}`] : [],
        ),
      ),
      ...(s.limitUnavailable ? [`limit: ${s.limitUnavailable}`] : []),
    ]);
    for (const line of [...missing, ...problems]) log(`problem: ${line}`);
    if (missing.length + problems.length > 0) return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message} (see --help)\n`);
      process.exit(2);
    }
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
