/**
 * `npm start`: the examples, live. Brings up a full local control plane (building the binaries on first use,
 * with progress), installs the examples' CRDs (and the third-party ones they use, from third_party/crds), runs every
 * example operator in one manager, applies each example's samples, and shows them converging in a table that
 * updates until Ctrl-C. `npm start -- --once` prints the final state and exits 0 once every sample converged (1
 * if they did not within --timeout).
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { Client, type KubeClient } from "../src/client/index.ts";
import { ControlPlane } from "../src/cluster/control-plane.ts";
import { createLogger } from "../src/controller/index.ts";
import type { ReconcileEvent } from "../src/manager/index.ts";
import { createOperatorManager, installCrds, type OperatorDefinition, waitForCrds } from "../src/operator/index.ts";
import { apiextensionsv1, appsv1, batchv1, corev1, type KubeObject, type ResourceType } from "../src/types/index.ts";

const usage = `Usage: npm start [-- options]

Starts a local control plane, runs every example operator (examples/*) in one manager, applies their samples
(examples/*/config/samples) and shows them converging until Ctrl-C.

Options:
  --once           print the final state and exit when every sample converged (0) or at --timeout (1)
  --timeout <s>    how long --once waits (default 180)
  --help           this text
`;

const { values } = parseArgs({
  options: { once: { type: "boolean" }, timeout: { type: "string", default: "180" }, help: { type: "boolean" } },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const timeoutMs = Number(values.timeout) * 1000;
if (!(timeoutMs > 0)) {
  process.stderr.write(`--timeout: expected a number of seconds, got "${values.timeout}"\n`);
  process.exit(2);
}

const root = join(import.meta.dirname, "..");
const say = (line: string) => process.stdout.write(`${line}\n`);
const tty = process.stdout.isTTY === true && !values.once;

interface Example {
  name: string;
  op: OperatorDefinition;
  samples: KubeObject[];
}

/** Every examples/<name> with src/operator.ts, and its samples. */
async function loadExamples(): Promise<Example[]> {
  const dir = join(root, "examples");
  const examples: Example[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const operatorFile = join(dir, name, "src", "operator.ts");
    if (!existsSync(operatorFile)) continue;
    const op = ((await import(operatorFile)) as { default: OperatorDefinition }).default;
    const samplesDir = join(dir, name, "config", "samples");
    const samples: KubeObject[] = [];
    if (existsSync(samplesDir)) {
      for (const file of (await readdir(samplesDir)).filter((f) => /\.ya?ml$/.test(f)).sort()) {
        for (const doc of parseAllDocuments(await readFile(join(samplesDir, file), "utf8"))) {
          const obj = doc.toJS() as KubeObject | null;
          if (obj?.kind) samples.push(obj);
        }
      }
    }
    examples.push({ name, op, samples });
  }
  return examples;
}

/** Third-party APIs the examples use (Dapr, Prometheus Operator), from their upstream CRDs in third_party/crds. */
async function installThirdPartyCrds(client: KubeClient): Promise<string[]> {
  const dir = join(root, "third_party", "crds");
  const names: string[] = [];
  for (const file of ["dapr.io_components.yaml", "monitoring.coreos.com_servicemonitors.yaml"]) {
    const path = join(dir, file);
    const crd = parseAllDocuments(await readFile(path, "utf8"))[0]?.toJS() as apiextensionsv1.CustomResourceDefinition;
    await client.apply(apiextensionsv1.CustomResourceDefinition, crd, { force: true, fieldManager: "converge-demo" });
    names.push(crd.metadata?.name ?? "");
  }
  await waitForCrds(client, names);
  return names;
}

interface Row {
  resource: string;
  owns: string;
  ready: number;
  desired: number;
  last: string;
  converged: boolean;
}

const ownedKinds: ResourceType[] = [
  corev1.ConfigMap,
  corev1.Secret,
  corev1.Service,
  corev1.PersistentVolumeClaim,
  appsv1.Deployment,
  appsv1.StatefulSet,
  batchv1.CronJob,
];

/** What one sample looks like now: what it owns, how many of its pods are ready, and its last reconcile. */
async function rowFor(
  client: KubeClient,
  type: ResourceType,
  sample: KubeObject,
  extraKinds: ResourceType[],
  last: Map<string, ReconcileEvent & { at: number }>,
): Promise<Row> {
  const namespace = sample.metadata?.namespace ?? "default";
  const name = sample.metadata?.name ?? "";
  const resource = `${type.kind.toLowerCase()}/${name}`;
  const live = await client.get(type, { namespace, name }).catch(() => undefined);
  const uid = live?.metadata?.uid;
  const owned: string[] = [];
  let ready = 0;
  let desired = 0;
  for (const kind of [...ownedKinds, ...extraKinds]) {
    const list = await client.list(kind, { namespace }).catch(() => ({ items: [] as KubeObject[] }));
    for (const o of list.items) {
      if (!uid || !o.metadata?.ownerReferences?.some((r) => r.uid === uid)) continue;
      owned.push(kind.kind === "PersistentVolumeClaim" ? "PVC" : kind.kind);
      if (kind === appsv1.Deployment || kind === appsv1.StatefulSet) {
        const w = o as appsv1.Deployment;
        desired += w.spec?.replicas ?? 1;
        ready += w.status?.readyReplicas ?? 0;
      }
    }
  }
  const conditions = (live as { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined)?.status
    ?.conditions;
  const degraded = conditions?.some((c) => c.type === "Degraded" && c.status === "True") ?? false;
  if (desired === 0 && live) {
    desired = 1;
    const ok = conditions?.some((c) => (c.type === "Ready" || c.type === "Available") && c.status === "True");
    ready = ok || (!conditions && owned.length > 0) ? 1 : 0;
  }
  const event = last.get(`${namespace}/${name}`);
  const lastText = event ? `${event.result} ${Math.round((Date.now() - event.at) / 1000)}s ago` : "-";
  return {
    resource,
    owns: summary(owned) || "-",
    ready,
    desired,
    last: lastText,
    converged: live !== undefined && owned.length > 0 && ready === desired && !degraded,
  };
}

/** `Deployment, 2 PVC, Secret`: kinds with their counts, short enough for a terminal row. */
function summary(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => (n > 1 ? `${n} ${k}` : k))
    .join(", ");
}

function table(rows: Row[]): string {
  const head = ["RESOURCE", "OWNS", "READY", "LAST RECONCILE"];
  const cells = rows.map((r) => [r.resource, r.owns, `${r.ready}/${r.desired}`, r.last]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("   ")
      .trimEnd();
  return [line(head), ...cells.map(line)].join("\n");
}

const plane = await ControlPlane.start({ name: "demo", log: (l) => say(`  ${l}`) });
let stopping: Promise<void> | undefined;
let stopManager: () => Promise<void> = async () => {};
const stop = (code: number) => {
  stopping ??= (async () => {
    say("\nstopping the operators and the control plane ...");
    await stopManager();
    await plane.stop();
    say("stopped; nothing is left running.");
  })();
  void stopping.then(() => process.exit(code));
};
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

try {
  const client = await Client.connect({ kubeconfig: plane.kubeconfigPath, fieldManager: "converge-demo" });
  const examples = await loadExamples();
  say(`\nkube-apiserver ${plane.server}; examples: ${examples.map((e) => e.name).join(", ")}`);
  const thirdParty = await installThirdPartyCrds(client);
  const all: OperatorDefinition = {
    name: "converge-examples",
    definitions: examples.flatMap((e) => e.op.definitions),
    controllers: examples.flatMap((e) => e.op.controllers),
    webhooks: examples.flatMap((e) => e.op.webhooks ?? []),
    conversions: examples.flatMap((e) => e.op.conversions ?? []),
  };
  const crds = await installCrds(client, all);
  say(`installed CRDs: ${[...crds, ...thirdParty].join(", ")}`);
  // Warnings and errors of the operators go to stderr, under the table.
  const log = createLogger({ level: "warn", destination: process.stderr, base: { operator: all.name } });
  const manager = await createOperatorManager(all, { client, webhookMode: "local", handleSignals: false, log });
  const last = new Map<string, ReconcileEvent & { at: number }>();
  manager.onReconcile((e) => last.set(e.key, { ...e, at: Date.now() }));
  const running = manager.start({ handleSignals: false });
  stopManager = async () => {
    await manager.stop();
    await running.catch(() => undefined);
    await client.close();
  };
  await manager.whenLeading();
  say(`running ${all.controllers.length} controllers and ${all.webhooks?.length ?? 0} webhooks in one manager\n`);

  // The samples, as `kubectl apply -f examples/*/config/samples` would (retried while the webhooks come up).
  const typeOf = (o: KubeObject) =>
    all.definitions.find((d) => d.apiVersion === o.apiVersion && d.kind === o.kind) as ResourceType | undefined;
  const samples: Array<{ type: ResourceType; sample: KubeObject }> = [];
  for (const e of examples) {
    for (const sample of e.samples) {
      const type = typeOf(sample);
      if (!type) continue;
      const obj = { ...sample, metadata: { ...sample.metadata, namespace: sample.metadata?.namespace ?? "default" } };
      for (let attempt = 0; ; attempt++) {
        try {
          await client.apply(type, obj, { force: true });
          break;
        } catch (err) {
          if (attempt >= 50) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      samples.push({ type, sample: obj });
      say(`applied ${e.name}/config/samples: ${type.kind} ${obj.metadata.name}`);
    }
  }

  // Kinds the controllers own beyond the built-in ones listed above (a Dapr Component, say).
  const extraKinds: ResourceType[] = [];
  for (const c of all.controllers) {
    for (const w of c.watchedTypes) {
      const known = [...ownedKinds, ...extraKinds].some(
        (t) => t.apiVersion === w.type.apiVersion && t.kind === w.type.kind,
      );
      if (w.role === "owns" && !known) extraKinds.push(w.type);
    }
  }
  const started = Date.now();
  let shown = "";
  for (;;) {
    const rows = await Promise.all(samples.map((s) => rowFor(client, s.type, s.sample, extraKinds, last)));
    const done = rows.every((r) => r.converged);
    const text = table(rows);
    if (tty)
      process.stdout.write(
        `\x1b[H\x1b[2J${text}\n\n${done ? "all converged" : "converging ..."} (Ctrl-C stops everything)\n`,
      );
    else if (text.replace(/\d+s ago/g, "") !== shown.replace(/\d+s ago/g, "")) say(`${text}\n`);
    shown = text;
    if (values.once && done) {
      say(`all ${rows.length} samples converged in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      stop(0);
      break;
    }
    if (values.once && Date.now() - started > timeoutMs) {
      say(`not converged after ${values.timeout}s:\n${text}`);
      stop(1);
      break;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
} catch (err) {
  process.stderr.write(`error: ${(err as Error).stack ?? err}\n`);
  stop(1);
}
