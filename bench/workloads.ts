/**
 * W1–W5 for one peer at one concurrency, on a plane shared by every peer: each peer gets fresh namespaces, which
 * are emptied afterwards. Everything is measured from outside: the harness's tracker (convergence, latency),
 * the apiserver's request counters, and /proc (CPU, RSS).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Client } from "../src/client/index.ts";
import type { ControlPlane } from "../src/cluster/index.ts";
import { corev1, type KubeObject, type ResourceType } from "../src/types/index.ts";
import { profileApiserver } from "./apiserver-profile.ts";
import { Bench } from "./crd.ts";
import type {
  ChurnStep,
  CpuSplit,
  Measures,
  PeerRun,
  W1Result,
  W2Result,
  W3Result,
  W4Result,
  W5Result,
} from "./figures.ts";
import { churn, createBenches } from "./load.ts";
import { add, type Ledger, type RequestCounts, scrapeRequests, subtract, withCode, writes } from "./metrics.ts";
import { type Command, PeerProcess } from "./peer-process.ts";
import { harnessCpuSeconds, machineCpuSeconds, processCpuSeconds } from "./proc.ts";
import { type LatencySample, Tracker } from "./tracker.ts";

export interface BenchContext {
  plane: ControlPlane;
  /** The harness's client (load generator and tracker). */
  client: Client;
  ledger: Ledger;
  log: (line: string) => void;
  /** The repository root (peers' working directory). */
  root: string;
  /** Where peers' stderr logs go. */
  logDir: string;
  /** CPU lists for `taskset -c`, or undefined where pinning is off or impossible. */
  pin: { apiserver: string; operator: string } | undefined;
  workloads: ReadonlySet<string>;
  churnRates: readonly number[];
  churnSeconds: number;
  resyncSeconds: number;
  idleSeconds: number;
  /** Requests in flight when the load generator creates Benches. */
  createInFlight: number;
  /**
   * A pause before each timed phase and before settled figures are read, so that one burst's after-effects (Go GC,
   * etcd, the operator's last no-op reconciles) do not spill into the next measurement.
   */
  settleMs: number;
  /** Where CPU profiles of the apiserver during W2 go (`--cpu-prof`), if anywhere. */
  apiserverProfileDir?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a peer may take to converge N objects before the workload is recorded as failed. */
export function convergeTimeoutMs(n: number): number {
  return 120_000 + n * 60;
}

/** Pins the apiserver's threads (again after a restart) to its CPUs. */
export function pinApiserver(ctx: Pick<BenchContext, "plane" | "pin">): void {
  const pid = ctx.plane.state().components.find((c) => c.name === "kube-apiserver")?.pid;
  if (!ctx.pin || !pid) return;
  execFileSync("taskset", ["-a", "-p", "-c", ctx.pin.apiserver, String(pid)], { stdio: "ignore" });
}

function componentPid(plane: ControlPlane, name: string): number | undefined {
  return plane.state().components.find((c) => c.name === name)?.pid;
}

/** A point in time for the before/after figures of a phase. */
interface Mark {
  at: number;
  requests: RequestCounts;
  harness: RequestCounts;
  operatorCpu: number;
  apiserverCpu: number;
  etcdCpu: number;
  harnessCpu: number;
  machineCpu: { busy: number; steal: number };
  /** Seconds on the operator's sampler clock. */
  samplerT: number;
}

async function mark(ctx: BenchContext, op: PeerProcess): Promise<Mark> {
  return markOf(ctx, await scrapeRequests(ctx.plane), op.sampler.sample());
}

/** A mark from the apiserver's request counts and an operator sample taken by the caller; the rest is read now. */
function markOf(ctx: BenchContext, requests: RequestCounts, operator: { cpuSeconds: number; t: number }): Mark {
  return {
    at: performance.now(),
    requests,
    harness: ctx.ledger.snapshot(),
    operatorCpu: operator.cpuSeconds,
    apiserverCpu: processCpuSeconds(componentPid(ctx.plane, "kube-apiserver")),
    etcdCpu: processCpuSeconds(componentPid(ctx.plane, "etcd")),
    harnessCpu: harnessCpuSeconds(),
    machineCpu: machineCpuSeconds(),
    samplerT: operator.t,
  };
}

/** The operator's requests between two marks: the apiserver's count minus the harness's own. */
function operatorRequests(a: Mark, b: Mark): RequestCounts {
  return subtract(subtract(b.requests, a.requests), subtract(b.harness, a.harness));
}

function cpuBetween(a: Mark, b: Mark): CpuSplit {
  const operator = b.operatorCpu - a.operatorCpu;
  const apiserver = Math.max(0, b.apiserverCpu - a.apiserverCpu);
  const etcd = b.etcdCpu - a.etcdCpu;
  const harness = b.harnessCpu - a.harnessCpu;
  const steal = b.machineCpu.steal - a.machineCpu.steal;
  const busy = b.machineCpu.busy - a.machineCpu.busy;
  const other = Math.max(0, busy - operator - apiserver - etcd - harness - steal);
  return { operator, apiserver, etcd, harness, steal, other };
}

function rssBetween(op: PeerProcess, fromT: number, toT: number): Array<[number, number]> {
  // A sample taken after the process exited reads 0: not a point of its memory curve.
  const points = op.sampler.samples.filter((s) => s.t >= fromT && s.t <= toT && s.rssBytes > 0);
  // At most 240 points, each the highest of its stretch, so that peaks survive and the JSON stays small.
  const stretch = Math.ceil(points.length / 240);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < points.length; i += stretch) {
    const group = points.slice(i, i + stretch);
    const top = group.reduce((a, b) => (b.rssBytes > a.rssBytes ? b : a));
    out.push([round(top.t - fromT), top.rssBytes]);
  }
  return out;
}

function measures(
  op: PeerProcess,
  a: Mark,
  b: Mark,
  wallSeconds: number,
  objects: number,
  held: number,
  emptyRss: number | undefined,
): Measures {
  const requests = operatorRequests(a, b);
  const settledRssBytes = op.sampler.samples.findLast((s) => s.t <= b.samplerT)?.rssBytes ?? 0;
  return {
    wallSeconds,
    objects,
    objectsPerSecond: wallSeconds > 0 ? objects / wallSeconds : 0,
    requests,
    conflicts: withCode(requests, 409),
    peakRssBytes: op.sampler.peakRss(a.samplerT),
    peakAnonBytes: op.sampler.peakAnon(a.samplerT),
    settledRssBytes,
    bytesPerObject:
      emptyRss !== undefined && held > 0 && settledRssBytes > 0 ? (settledRssBytes - emptyRss) / held : undefined,
    cpu: cpuBetween(a, b),
    rss: rssBetween(op, a.samplerT, b.samplerT),
  };
}

export interface PeerUnderTest {
  name: string;
  command: Command;
}

/**
 * Runs every selected workload for one peer at one concurrency. Failures are recorded, not thrown. A repeated run
 * (`round`) gets namespaces of its own: the earlier round's are emptied, not deleted.
 */
export async function runPeer(
  ctx: BenchContext,
  peer: PeerUnderTest,
  workers: number,
  n: number,
  round?: number,
): Promise<PeerRun> {
  const run: PeerRun = { peer: peer.name, workers, problems: [], ...(round ? { round } : {}) };
  const slug = `${peer.name}-${workers}${round ? `-r${round}` : ""}`.replace(/[^a-z0-9-]/g, "-");
  const wants = (w: string) => ctx.workloads.has(w);
  if (wants("w2") || wants("w3") || wants("w5")) {
    await phaseA(ctx, peer, workers, n, `a-${slug}`, run).catch((err: Error) => {
      run.problems.push(`W2/W3/W5: ${err.message}`);
    });
  }
  if (wants("w1") || wants("w4")) {
    await phaseB(ctx, peer, workers, n, `b-${slug}`, run).catch((err: Error) => {
      run.problems.push(`W1/W4: ${err.message}`);
    });
  }
  return run;
}

interface Started {
  op: PeerProcess;
  tracker: Tracker;
}

function spawnPeer(
  ctx: BenchContext,
  peer: PeerUnderTest,
  workers: number,
  namespace: string,
  label: string,
  resyncSeconds?: number,
): PeerProcess {
  ctx.log(`  ${peer.name} ×${workers}: starting (${label})`);
  return new PeerProcess(peer.command, {
    kubeconfig: ctx.plane.kubeconfigPath,
    namespace,
    workers,
    ...(resyncSeconds ? { resyncSeconds } : {}),
    cpus: ctx.pin?.operator,
    logFile: join(ctx.logDir, `${namespace}.log`),
    cwd: ctx.root,
  });
}

async function stopPeer(op: PeerProcess, run: PeerRun, label: string): Promise<void> {
  const early = op.exit;
  const stop = await op.stop();
  if (early !== undefined) run.problems.push(`${label}: the operator exited (${early}) before it was stopped`);
  else if (stop.exit !== "code 0") run.problems.push(`${label}: on SIGTERM the operator ended with ${stop.exit}`);
  if (stop.stdoutBytes > 0) run.problems.push(`${label}: the operator wrote ${stop.stdoutBytes} bytes to stdout`);
}

/** Rejects once the operator process has exited (checked every 200 ms): a wait on it can end at once. */
function whenExited(op: PeerProcess, message: () => string): Promise<never> {
  return new Promise<never>((_, reject) => {
    const timer = setInterval(() => {
      if (op.exit === undefined) return;
      clearInterval(timer);
      reject(new Error(message()));
    }, 200);
    timer.unref();
  });
}

/** Waits until `count` Benches are converged; fails early when the operator exits. */
async function converged(
  ctx: BenchContext,
  op: PeerProcess,
  tracker: Tracker,
  count: number,
  timeoutMs: number,
  what: string,
) {
  const exited = whenExited(
    op,
    () => `${what}: the operator exited (${op.exit}); ${tracker.converged}/${count} converged`,
  );
  const progress = setInterval(() => ctx.log(`    ${what}: converged ${tracker.converged}/${count}`), 10_000);
  try {
    await Promise.race([
      tracker.until(() => tracker.converged >= count, timeoutMs, `${what}: ${count} converged`),
      exited,
    ]);
  } catch (err) {
    throw new Error(
      `${(err as Error).message} (${tracker.converged}/${count} converged; e.g. ${tracker.unconverged(3).join(", ")})`,
    );
  } finally {
    clearInterval(progress);
  }
}

export async function ensureNamespace(ctx: BenchContext, name: string): Promise<void> {
  await ctx.client.create(corev1.Namespace, { metadata: { name } });
}

/** Deletes every Bench and ConfigMap of a namespace (no garbage collector runs in a minimal plane). */
export async function emptyNamespace(ctx: BenchContext, namespace: string): Promise<void> {
  const types: ResourceType<KubeObject>[] = [Bench, corev1.ConfigMap];
  for (const type of types) {
    const path = ctx.client.path(type, namespace);
    // One DELETE of 10,000 objects can outlast the apiserver's one-minute request timeout, which cuts the answer
    // off; each try deletes what it can in its minute, so the next one is asked until none is left.
    for (let attempt = 1; ; attempt++) {
      const answer = await ctx.plane.http.request<{ message?: string }>("DELETE", path).catch((err: Error) => err);
      if (!(answer instanceof Error) && answer.status >= 200 && answer.status < 300) break;
      const left = await ctx.client.list(type, { namespace, limit: 1 });
      if (left.items.length === 0) break;
      if (attempt === 5) {
        const why = answer instanceof Error ? answer.message : `HTTP ${answer.status}: ${answer.body?.message ?? ""}`;
        throw new Error(`DELETE ${path}: objects left after ${attempt} tries (${why})`);
      }
    }
  }
  // A finalizer left by a stopped operator would keep its Bench: drop them.
  const left = await ctx.client.list(Bench, { namespace });
  for (const b of left.items) {
    if (b.metadata?.finalizers?.length) {
      await ctx.client.patch(Bench, { namespace, name: b.metadata.name ?? "" }, "merge", {
        metadata: { finalizers: null },
      });
    }
  }
}

/** W2, then W3 and W5, on one operator process started on an empty namespace. */
async function phaseA(ctx: BenchContext, peer: PeerUnderTest, workers: number, n: number, ns: string, run: PeerRun) {
  await ensureNamespace(ctx, ns);
  const tracker = new Tracker(ctx.client, ctx.ledger, ns);
  let op: PeerProcess | undefined;
  try {
    await tracker.start();
    op = spawnPeer(ctx, peer, workers, ns, "W2, W3, W5");
    const started: Started = { op, tracker };
    // A first Bench shows the operator is up and its caches synced; then its empty-cache RSS.
    await createBenches(ctx.client, ctx.ledger, ns, { first: n, count: 1 }, loopOpts(ctx, 1, 60_000));
    await converged(ctx, op, tracker, 1, 120_000, "start-up");
    await sleep(ctx.settleMs);
    const emptyRss = op.sampler.sample().rssBytes;
    run.emptyRssBytes = emptyRss;
    ctx.log(`  ${peer.name} ×${workers}: up; RSS ${(emptyRss / 2 ** 20).toFixed(0)} MB with an empty cache`);

    // A workload needs a running operator: once it has exited, the rest of the phase is not run.
    const alive = (next: string) => {
      if (op?.exit !== undefined) throw new Error(`the operator exited (${op.exit}); ${next} not run`);
    };
    if (ctx.workloads.has("w2")) run.w2 = await w2(ctx, started, n, emptyRss);
    else {
      // W3 and W5 update N converged Benches: without W2, they are created (untimed) first.
      await createBenches(ctx.client, ctx.ledger, ns, { first: 0, count: n }, loopOpts(ctx, n));
      await converged(ctx, op, tracker, n + 1, convergeTimeoutMs(n), "N Benches for W3/W5");
    }
    if (ctx.workloads.has("w3")) {
      alive("W3");
      run.w3 = await w3(ctx, started, n, emptyRss);
    }
    if (ctx.workloads.has("w5")) {
      alive("W5");
      run.w5 = await w5(ctx, started, n, emptyRss);
    }
  } finally {
    if (op) await stopPeer(op, run, "W2/W3/W5");
    await tracker.stop();
    await emptyNamespace(ctx, ns);
  }
}

export function loopOpts(ctx: BenchContext, count: number, timeoutMs = convergeTimeoutMs(count)) {
  return { concurrency: ctx.createInFlight, timeoutMs, log: ctx.log };
}

async function w2(ctx: BenchContext, { op, tracker }: Started, n: number, emptyRss: number): Promise<W2Result> {
  ctx.log(`  W2: creating ${n} Benches`);
  const a = await mark(ctx, op);
  const profiling = ctx.apiserverProfileDir
    ? profileApiserver(ctx.plane.http, ctx.apiserverProfileDir, `w2-${tracker.namespace}`)
    : undefined;
  const t0 = performance.now();
  let failure: string | undefined;
  const createSeconds = await createBenches(
    ctx.client,
    ctx.ledger,
    tracker.namespace,
    { first: 0, count: n },
    loopOpts(ctx, n),
  );
  try {
    await converged(ctx, op, tracker, n + 1, convergeTimeoutMs(n), "W2");
  } catch (err) {
    failure = (err as Error).message;
  }
  const wall = ((failure ? performance.now() : tracker.lastChange) - t0) / 1000;
  const profiles = await profiling?.stop().catch((err: Error) => {
    ctx.log(`  W2: ${err.message}`);
    return [];
  });
  await sleep(ctx.settleMs);
  const b = await mark(ctx, op);
  const m = measures(op, a, b, wall, failure ? tracker.converged - 1 : n, n, emptyRss);
  if (profiles) ctx.log(`  W2: ${profiles.length} apiserver profiles (${profiles[0] ?? "none"} …)`);
  ctx.log(`  W2: ${failure ?? `converged in ${wall.toFixed(2)} s`}`);
  return {
    ...m,
    ...(failure ? { failure } : {}),
    createSeconds,
    limitShare: undefined,
    writesPerObject: writes(m.requests) / n,
  };
}

/** [second, p50, max] of latency samples [t seconds, ms], per whole second. */
function perSecond(samples: Array<[number, number]>): Array<[number, number, number]> {
  const bySecond = new Map<number, number[]>();
  for (const [t, ms] of samples) {
    const s = Math.floor(t);
    const list = bySecond.get(s);
    if (list) list.push(ms);
    else bySecond.set(s, [ms]);
  }
  return [...bySecond.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([s, list]) => {
      const sorted = list.sort((x, y) => x - y);
      return [s, round(percentile(sorted, 50) ?? 0), round(sorted.at(-1) ?? 0)];
    });
}

const round = (v: number) => Math.round(v * 10) / 10;

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** p50 / p99 of each part of the latency, over the samples that have every timestamp. */
function stagesOf(lat: readonly LatencySample[]): Pick<ChurnStep, "stages"> {
  const whole = lat.filter((l) => l.ackedAt !== undefined && l.benchSeenAt !== undefined);
  if (whole.length === 0) return {};
  const p = (values: number[]): [number, number] => {
    const sorted = values.sort((x, y) => x - y);
    return [round(percentile(sorted, 50) ?? 0), round(percentile(sorted, 99) ?? 0)];
  };
  return {
    stages: {
      apiserver: p(whole.map((l) => (l.ackedAt as number) - l.sentAt)),
      watch: p(whole.map((l) => (l.benchSeenAt as number) - l.sentAt)),
      operator: p(whole.map((l) => l.seenAt - (l.benchSeenAt as number))),
    },
  };
}

/** After a churn step, how long the harness waits for the last updates to show up. */
const drainMs = 5_000;

async function w3(ctx: BenchContext, { op, tracker }: Started, n: number, emptyRss: number): Promise<W3Result> {
  const steps: ChurnStep[] = [];
  const seq = { next: 0 };
  await sleep(ctx.settleMs);
  const a = await mark(ctx, op);
  let seenTotal = 0;
  let churnSeconds = 0;
  for (const rate of ctx.churnRates) {
    ctx.log(`  W3: ${rate} updates/s for ${ctx.churnSeconds} s`);
    const from = tracker.latencies.length;
    const step = await churn(ctx.client, ctx.ledger, tracker, { n, rate, seconds: ctx.churnSeconds, seq });
    await tracker.until(() => tracker.outstanding === 0, drainMs, "drain").catch(() => {});
    const { unseen, superseded } = tracker.dropPending();
    const lat = tracker.latencies.slice(from);
    const sorted = lat.map((l) => l.seenAt - l.sentAt).sort((x, y) => x - y);
    const sustained = unseen === 0 && step.achievedRate >= 0.95 * rate;
    steps.push({
      targetRate: rate,
      achievedRate: step.achievedRate,
      sent: step.sent,
      seen: lat.length,
      unseen,
      superseded,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1),
      sustained,
      perSecond: perSecond(lat.map((l) => [(l.sentAt - step.startedAt) / 1000, l.seenAt - l.sentAt])),
      ...stagesOf(lat),
    });
    seenTotal += lat.length;
    churnSeconds += step.seconds;
    const last = steps.at(-1) as ChurnStep;
    ctx.log(
      `  W3: ${rate}/s: reached ${step.achievedRate.toFixed(0)}/s, p50 ${last.p50Ms?.toFixed(1) ?? "-"} ms, ` +
        `p99 ${last.p99Ms?.toFixed(1) ?? "-"} ms, ${unseen} not seen` +
        (last.stages
          ? ` (p50 / p99 ms: apiserver ${last.stages.apiserver.join(" / ")}, watch ${last.stages.watch.join(" / ")}, ` +
            `operator ${last.stages.operator.join(" / ")})`
          : ""),
    );
    await sleep(1_000);
  }
  const b = await mark(ctx, op);
  const m = measures(op, a, b, churnSeconds, seenTotal, n, emptyRss);
  const highestSustained = Math.max(0, ...steps.filter((s) => s.sustained).map((s) => s.targetRate));
  return { ...m, steps, highestSustained };
}

/** W5's update rate. */
const cutRate = 50;

async function w5(ctx: BenchContext, { op, tracker }: Started, n: number, emptyRss: number): Promise<W5Result> {
  // Updates run 3 s before the restart and 6 s after it is ready (shorter when W3's steps are shorter than 3 s).
  const cutBeforeSeconds = Math.min(3, ctx.churnSeconds);
  const cutAfterSeconds = Math.min(6, 2 * ctx.churnSeconds);
  ctx.log(`  W5: ${cutRate} updates/s, the apiserver restarts after ${cutBeforeSeconds} s`);
  await sleep(ctx.settleMs);
  const a = await mark(ctx, op);
  const seq = { next: 1_000_000 };
  const from = tracker.latencies.length;
  // One churn through the cut: the updates sent while the apiserver is down fail and are not expected.
  const stopChurn = new AbortController();
  const churning = churn(ctx.client, ctx.ledger, tracker, {
    n,
    rate: cutRate,
    seconds: 600,
    seq,
    inFlight: 16,
    until: stopChurn.signal,
  });
  await sleep(cutBeforeSeconds * 1000);
  // The apiserver's counters start again from zero after the restart: count the two halves apart.
  const beforeCut = await mark(ctx, op);
  const downAt = performance.now();
  // The harness's own requests are told apart from the operator's by the ledger: its count from the moment the
  // old apiserver is gone, since the new one serves (and counts) requests before it reports ready.
  let afterCutHarness = ctx.ledger.snapshot();
  await ctx.plane.restart("kube-apiserver", {
    downMs: 1_000,
    onStopped: () => {
      afterCutHarness = ctx.ledger.snapshot();
    },
  });
  const readyAt = performance.now();
  pinApiserver(ctx);
  ctx.log(`  W5: apiserver ready again after ${((readyAt - downAt) / 1000).toFixed(1)} s`);
  await sleep(cutAfterSeconds * 1000);
  stopChurn.abort();
  const step = await churning;
  let failure: string | undefined;
  try {
    await Promise.race([
      tracker.until(() => tracker.outstanding === 0, 60_000, "W5 drain"),
      whenExited(op, () => `W5: the operator exited (${op.exit})`),
    ]);
    await converged(ctx, op, tracker, n + 1, 60_000, "W5");
  } catch (err) {
    failure = (err as Error).message;
  }
  const endAt = performance.now();
  await sleep(ctx.settleMs);
  const b = await mark(ctx, op);
  const missed = await countUnconverged(ctx, tracker.namespace);
  const lat = tracker.latencies.slice(from);
  const firstAfter = lat.filter((l) => l.sentAt >= readyAt).sort((x, y) => x.sentAt - y.sentAt)[0];
  const { unseen } = tracker.dropPending();
  // Requests: from the start to the cut, plus everything the restarted apiserver counted.
  const before = operatorRequests(a, beforeCut);
  const after = subtract(b.requests, subtract(b.harness, afterCutHarness));
  const m = measures(op, a, b, (endAt - a.at) / 1000, lat.length, n, emptyRss);
  const requests = add(before, after);
  ctx.log(`  W5: ${missed} missed, ${unseen} updates not seen${failure ? `; ${failure}` : ""}`);
  return {
    ...m,
    requests,
    conflicts: withCode(requests, 409),
    ...(failure ? { failure } : {}),
    missed,
    recoverySeconds: firstAfter ? (firstAfter.seenAt - readyAt) / 1000 : undefined,
    downSeconds: (readyAt - downAt) / 1000,
    sent: step.sent,
    failed: step.failed,
  };
}

/** Benches whose ConfigMap or status is not right, read back from the apiserver (the authoritative check). */
async function countUnconverged(ctx: BenchContext, namespace: string): Promise<number> {
  const [benches, cms] = await Promise.all([
    ctx.client.list(Bench, { namespace }),
    ctx.client.list(corev1.ConfigMap, { namespace }),
  ]);
  ctx.ledger.record("LIST", "benches", 200);
  ctx.ledger.record("LIST", "configmaps", 200);
  const values = new Map(cms.items.map((c) => [c.metadata?.name, c.data?.value]));
  return benches.items.filter(
    (b) => values.get(b.metadata?.name) !== b.spec.value || b.status?.observedGeneration !== b.metadata?.generation,
  ).length;
}

/** W1 on a namespace that already holds N Benches, then W4 on a fresh operator with a resync period. */
async function phaseB(ctx: BenchContext, peer: PeerUnderTest, workers: number, n: number, ns: string, run: PeerRun) {
  await ensureNamespace(ctx, ns);
  const tracker = new Tracker(ctx.client, ctx.ledger, ns);
  try {
    await createBenches(ctx.client, ctx.ledger, ns, { first: 0, count: n }, loopOpts(ctx, n));
    await tracker.start();
    await tracker.until(() => tracker.benches >= n, 60_000, "Benches listed");
    if (ctx.workloads.has("w1")) run.w1 = await w1(ctx, peer, workers, n, tracker, run);
    else if (ctx.workloads.has("w4")) await convergeUntimed(ctx, peer, workers, n, tracker, run);
    if (ctx.workloads.has("w4")) run.w4 = await w4(ctx, peer, workers, n, tracker, run);
  } finally {
    await tracker.stop();
    await emptyNamespace(ctx, ns);
  }
}

async function w1(
  ctx: BenchContext,
  peer: PeerUnderTest,
  workers: number,
  n: number,
  tracker: Tracker,
  run: PeerRun,
): Promise<W1Result> {
  const { op, a } = await spawnMeasured(ctx, peer, workers, tracker.namespace, "W1");
  let failure: string | undefined;
  try {
    await converged(ctx, op, tracker, n, convergeTimeoutMs(n), "W1");
  } catch (err) {
    failure = (err as Error).message;
  }
  const wall = ((failure ? performance.now() : tracker.lastChange) - op.spawnedAt) / 1000;
  await sleep(ctx.settleMs);
  const b = await afterStop(ctx, op, run, "W1");
  const m = measures(op, a, b, wall, failure ? tracker.converged : n, n, run.emptyRssBytes);
  ctx.log(`  W1: ${failure ?? `converged in ${wall.toFixed(2)} s`}`);
  return { ...m, ...(failure ? { failure } : {}), limitShare: undefined, writesPerObject: writes(m.requests) / n };
}

/**
 * The end mark of a workload that ends the operator: CPU and RSS just before SIGTERM, requests once it has
 * exited, so that its watches, which the apiserver counts when they end, are in.
 */
async function afterStop(ctx: BenchContext, op: PeerProcess, run: PeerRun, label: string): Promise<Mark> {
  const b = await mark(ctx, op);
  await stopPeer(op, run, label);
  await sleep(500);
  return { ...b, requests: await scrapeRequests(ctx.plane), harness: ctx.ledger.snapshot() };
}

/**
 * Starts the operator of a workload that spawns its own (W1, W4), after the settle pause, with its start mark: the
 * apiserver's counters are scraped just before the spawn (the baseline), everything else just after it.
 */
async function spawnMeasured(
  ctx: BenchContext,
  peer: PeerUnderTest,
  workers: number,
  namespace: string,
  label: string,
  resyncSeconds?: number,
): Promise<{ op: PeerProcess; a: Mark }> {
  await sleep(ctx.settleMs);
  const requests = await scrapeRequests(ctx.plane);
  const op = spawnPeer(ctx, peer, workers, namespace, label, resyncSeconds);
  // The operator's CPU counts from 0: it was spawned just now.
  const a = markOf(ctx, requests, { cpuSeconds: 0, t: op.sampler.sample().t });
  return { op, a };
}

/** W4's warm-up: start-up and the initial list, left out of the CPU figure. */
const idleWarmupSeconds = 5;

/** W4 observes a converged namespace: without W1 to converge it, an operator does it first, untimed. */
async function convergeUntimed(
  ctx: BenchContext,
  peer: PeerUnderTest,
  workers: number,
  n: number,
  tracker: Tracker,
  run: PeerRun,
): Promise<void> {
  const op = spawnPeer(ctx, peer, workers, tracker.namespace, "converging the Benches for W4");
  try {
    await converged(ctx, op, tracker, n, convergeTimeoutMs(n), "N Benches for W4");
  } finally {
    await stopPeer(op, run, "converging for W4");
  }
}

async function w4(
  ctx: BenchContext,
  peer: PeerUnderTest,
  workers: number,
  n: number,
  tracker: Tracker,
  run: PeerRun,
): Promise<W4Result> {
  const label = `W4, resync ${ctx.resyncSeconds} s`;
  const { op, a } = await spawnMeasured(ctx, peer, workers, tracker.namespace, label, ctx.resyncSeconds);
  const window = Math.max(ctx.idleSeconds, idleWarmupSeconds + 1);
  await sleep(idleWarmupSeconds * 1000);
  const warm = await mark(ctx, op);
  await sleep((window - idleWarmupSeconds) * 1000);
  const b = await afterStop(ctx, op, run, "W4");
  const m = measures(op, a, b, window, n, n, run.emptyRssBytes);
  const perMinute = 60 / window;
  const steady = (b.at - warm.at) / 1000;
  // Requests at rest: the start-up list (one WATCH with initial events, or pages of LIST) is not a resync's cost.
  const atRest = Object.values(operatorRequests(warm, b)).reduce((s, v) => s + v, 0);
  const result: W4Result = {
    ...m,
    resyncSeconds: ctx.resyncSeconds,
    windowSeconds: window,
    writesPerMinute: writes(m.requests) * perMinute,
    requestsPerMinute: (atRest * 60) / steady,
    cpuSecondsPerMinute: ((b.operatorCpu - warm.operatorCpu) * 60) / steady,
  };
  if (op.exit !== undefined && op.exit !== "code 0") result.failure = `the operator exited (${op.exit})`;
  ctx.log(`  W4: ${result.writesPerMinute.toFixed(1)} writes/min, ${result.cpuSecondsPerMinute.toFixed(2)} CPU s/min`);
  return result;
}
