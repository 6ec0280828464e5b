/** Turns one benchmark run into a table (Markdown, so that it reads in a terminal and pastes into the README). */
import type { Counts, OperatorMessage } from "./operator.ts";

/** What the operator process reports at the end: counts and memory (see operator.ts). */
type OperatorResult = Omit<Extract<OperatorMessage, { type: "result" }>, "type">;

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  kubeApiserver: string;
  etcd: string;
}

/**
 * CPU seconds (user + system) spent during one phase by the client process (the operator, or the loop), by
 * kube-apiserver, by etcd, and by everything else on the machine (other work there skews every figure).
 */
export interface Cpu {
  client: number;
  apiserver: number;
  etcd: number;
  other: number;
}

export interface RunResult {
  n: number;
  concurrency: number;
  /** CPUs of the machine, to put CPU seconds in proportion. */
  cpus: number;
  /** W1: the N Bench objects created before the operator starts. */
  create: { seconds: number; inFlight: number };
  operator: {
    /** Seconds from spawning the operator process to its modules being loaded. */
    loadSeconds: number;
    /** Seconds from there to its caches being synced and its controller started (connect, list, watch). */
    syncSeconds: number;
    /** Seconds from cache sync to the last key converged. */
    reconcileSeconds: number;
    /** From spawn to converged; `client` is the operator process. */
    cpu: Cpu;
  } & OperatorResult;
  ceiling: {
    /** One write per object: create the ConfigMap. */
    oneWrite: { seconds: number; cpu: Cpu };
    /** Two writes per object, like the operator: create the ConfigMap, then update the Bench's status. */
    twoWrite: { seconds: number; cpu: Cpu };
  };
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const s = (seconds: number) => seconds.toFixed(2);
/** The four CPU figures, and the CPU seconds the machine had in that time. */
const cpu = (c: Cpu, wall: number, cpus: number) =>
  `${[c.client, c.apiserver, c.etcd, c.other].map((v) => v.toFixed(1)).join(" · ")} (of ${(wall * cpus).toFixed(1)})`;
const rate = (n: number, seconds: number) => (n / seconds).toFixed(0);

export function machineLines(m: Machine): string[] {
  return [
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB.toFixed(0)} GiB, ${m.platform}`,
    `node ${m.node}; plane: kube-apiserver ${m.kubeApiserver}, etcd ${m.etcd} (minimal mode)`,
  ];
}

/** Requests per object by verb, e.g. `POST 1.00 · PUT 1.00 · GET 4 (lists) · WATCH 2`. */
function requestLine(counts: Counts, n: number): { perObject: string; fixed: string; failed: number } {
  const byMethod: Record<string, number> = {};
  let failed = 0;
  for (const [key, count] of Object.entries(counts.requests)) {
    const [method = "?", code = "0"] = key.split(" ");
    byMethod[method] = (byMethod[method] ?? 0) + count;
    if (!code.startsWith("2")) failed += count;
  }
  const perObject = ["POST", "PUT", "PATCH", "DELETE"]
    .filter((m) => byMethod[m] !== undefined)
    .map((m) => `${m} ${((byMethod[m] ?? 0) / n).toFixed(2)}`);
  const fixed = [`GET ${byMethod.GET ?? 0}`, `WATCH ${byMethod.WATCH ?? 0}`];
  return { perObject: perObject.join(" · ") || "none", fixed: fixed.join(" · "), failed };
}

export function resultTable(r: RunResult): string[] {
  const op = r.operator;
  const total = op.loadSeconds + op.syncSeconds + op.reconcileSeconds;
  const idle = op.atIdle;
  const req = requestLine(idle, r.n);
  const writes = idle.configMapCreates + idle.configMapPatches + idle.statusUpdates;
  const ratioTotal = r.ceiling.twoWrite.seconds / total;
  const ratioAfterSync = r.ceiling.twoWrite.seconds / op.reconcileSeconds;
  const rows: Array<[string, string]> = [
    [
      "W1: create N Benches before the operator starts",
      `${s(r.create.seconds)} s (${rate(r.n, r.create.seconds)}/s, ${r.create.inFlight} in flight)`,
    ],
    ["**Converge: time to converge** (process start → all converged)", `**${s(total)} s**`],
    ["  process start and module loading", `${s(op.loadSeconds)} s`],
    ["  connect, list and watch until the caches synced", `${s(op.syncSeconds)} s`],
    ["  reconciling, after cache sync", `${s(op.reconcileSeconds)} s`],
    ["objects/s (after cache sync)", `${rate(r.n, total)} (${rate(r.n, op.reconcileSeconds)})`],
    [
      "reconciles total (when converged / once idle)",
      `${op.atConverged.reconciles} / ${idle.reconciles} (${(idle.reconciles / r.n).toFixed(2)} per object)`,
    ],
    ["reconciles/s, from cache sync until converged", rate(op.atConverged.reconciles, op.reconcileSeconds)],
    ["reconcile errors (retried)", String(idle.errors)],
    [
      "writes: ConfigMap creates · patches · status updates",
      `${idle.configMapCreates} · ${idle.configMapPatches} · ${idle.statusUpdates} (${(writes / r.n).toFixed(2)} per object)`,
    ],
    ["API requests per object, by verb", req.perObject],
    ["API requests, fixed (informer lists and watches)", req.fixed],
    ["API requests that failed (non-2xx)", String(req.failed)],
    ["CPU s until converged: operator · apiserver · etcd · other", cpu(op.cpu, total, r.cpus)],
    ["RSS: peak · once the modules were loaded", `${mb(op.maxRssBytes)} · ${mb(op.loadedRssBytes)} MB`],
    [
      "heap used: peak (sampled every 100 ms) · at the end, after GC",
      `${mb(op.peakHeapUsedBytes)} · ${mb(op.heapUsedBytes)} MB`,
    ],
    [
      "raw ceiling, 1 write per object (create ConfigMap)",
      `${s(r.ceiling.oneWrite.seconds)} s (${rate(r.n, r.ceiling.oneWrite.seconds)}/s)`,
    ],
    [
      "raw ceiling, 2 writes per object (+ status update)",
      `${s(r.ceiling.twoWrite.seconds)} s (${rate(r.n, r.ceiling.twoWrite.seconds)}/s)`,
    ],
    [
      "CPU s of the 2-write loop: loop · apiserver · etcd · other",
      cpu(r.ceiling.twoWrite.cpu, r.ceiling.twoWrite.seconds, r.cpus),
    ],
    [
      "**Converge / raw 2-write ceiling** (after cache sync)",
      `**${ratioTotal.toFixed(2)}x** (${ratioAfterSync.toFixed(2)}x)`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const valueWidth = Math.max(...rows.map(([, v]) => v.length));
  return [
    `### N = ${r.n}, concurrency ${r.concurrency}`,
    "",
    `| ${"metric".padEnd(width)} | ${"value".padEnd(valueWidth)} |`,
    `| ${"-".repeat(width)} | ${"-".repeat(valueWidth)} |`,
    ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v.padEnd(valueWidth)} |`),
    "",
    `Converge reaches ${ratioTotal.toFixed(2)}x of the raw 2-write ceiling from process start ` +
      `(${ratioAfterSync.toFixed(2)}x counting from cache sync).`,
  ];
}
