/**
 * The operator under test, run by bench/run.ts in a child process of its own (so that its memory figures are its
 * own): a Manager with one controller, `.for(Bench).owns(ConfigMap)`. Each reconcile reads the Bench from the
 * cache, makes sure ConfigMap `<name>` holds `data.value = spec.value` under a controller reference, and sets
 * `status.observedGeneration`; it writes only what differs. The child counts the keys that reached that state
 * and reports to its parent over IPC.
 */
import { Client } from "../src/client/index.ts";
import { controller, controllerOf, createLogger, setControllerReference } from "../src/controller/index.ts";
import { Manager } from "../src/manager/index.ts";
import { corev1 } from "../src/types/index.ts";
import { Bench } from "./crd.ts";

export interface OperatorConfig {
  kubeconfig: string;
  namespace: string;
  /** How many Bench objects make "all converged". */
  n: number;
  concurrency: number;
}

export interface Counts {
  reconciles: number;
  /** Reconciles that threw (retried by the queue with backoff). */
  errors: number;
  configMapCreates: number;
  configMapPatches: number;
  statusUpdates: number;
  /** API requests by `METHOD code` (WATCH for watches; GET covers the informers' lists). */
  requests: Record<string, number>;
}

export type OperatorMessage =
  /** Epoch ms: every module loaded (the first line of this file runs), and the caches synced. */
  | { type: "synced"; loaded: number; synced: number }
  | { type: "progress"; converged: number; reconciles: number }
  /** Sent the moment the last key converged. `cpuSeconds`: this process's CPU time (user + system) until then. */
  | { type: "converged"; at: number; cpuSeconds: number }
  | {
      type: "result";
      /** Counts when the last key converged, and once the queue was idle afterwards. */
      atConverged: Counts;
      atIdle: Counts;
      /** Peak resident set size over the process's life, and the RSS once every module was loaded. */
      maxRssBytes: number;
      loadedRssBytes: number;
      /** The largest heap in use seen by a sampler (every 100 ms), and the heap in use at the end after a full GC. */
      peakHeapUsedBytes: number;
      heapUsedBytes: number;
    };

// Static imports are evaluated before this line runs: this is the cost of loading the code.
const loaded = Date.now();
const loadedRssBytes = process.memoryUsage().rss;
const config = JSON.parse(process.argv[2] ?? "{}") as OperatorConfig;
let peakHeapUsedBytes = 0;
const heapSampler = setInterval(() => {
  peakHeapUsedBytes = Math.max(peakHeapUsedBytes, process.memoryUsage().heapUsed);
}, 100);
const send = (message: OperatorMessage, then?: () => void) => process.send?.(message, undefined, {}, then);
// The parent owns this process: without it there is nothing to report to.
process.on("disconnect", () => process.exit(2));

const counts: Counts = {
  reconciles: 0,
  errors: 0,
  configMapCreates: 0,
  configMapPatches: 0,
  statusUpdates: 0,
  requests: {},
};
const client = await Client.connect({
  kubeconfig: config.kubeconfig,
  fieldManager: "bench-operator",
  userAgent: "bench-operator (converge)",
});
client.transport.observe({
  request: ({ method, code }) => {
    const key = `${method} ${code}`;
    counts.requests[key] = (counts.requests[key] ?? 0) + 1;
  },
});

const converged = new Set<string>();
let allConverged: (() => void) | undefined;
const whenConverged = new Promise<void>((resolve) => {
  allConverged = resolve;
});

const manager = await Manager.create({
  name: "bench-operator",
  client,
  namespace: config.namespace,
  log: createLogger({ level: "warn", destination: process.stderr }),
});

const bench = controller("bench")
  .for(Bench)
  .owns(corev1.ConfigMap)
  .withOptions({ maxConcurrentReconciles: config.concurrency })
  .reconcile(async (req, ctx) => {
    counts.reconciles++;
    try {
      const obj = ctx.object;
      if (!obj) return undefined;
      const value = obj.spec.value;
      const key = { namespace: req.namespace, name: req.name };
      const cm = ctx.cache.get(corev1.ConfigMap, key);
      if (!cm) {
        const desired: corev1.ConfigMap = { metadata: { ...key }, data: { value } };
        await ctx.client.create(corev1.ConfigMap, setControllerReference(obj, desired, Bench), { signal: ctx.signal });
        counts.configMapCreates++;
      } else if (cm.data?.value !== value || controllerOf(cm)?.uid !== obj.metadata?.uid) {
        // Owner references are a list, which a merge patch replaces whole: send the full list we want.
        const { ownerReferences } = setControllerReference(obj, structuredClone(cm), Bench).metadata ?? {};
        const patch = { metadata: { ownerReferences }, data: { value } };
        await ctx.client.patch(corev1.ConfigMap, key, "merge", patch, { signal: ctx.signal });
        counts.configMapPatches++;
      }
      const generation = obj.metadata?.generation;
      if (obj.status?.observedGeneration !== generation) {
        await ctx.client.updateStatus(
          Bench,
          { ...obj, status: { observedGeneration: generation } },
          { signal: ctx.signal },
        );
        counts.statusUpdates++;
      }
      // Both writes succeeded, or the cache showed them done: this key is converged.
      if (!converged.has(req.key)) {
        converged.add(req.key);
        if (converged.size === config.n) allConverged?.();
      }
      return undefined;
    } catch (err) {
      counts.errors++;
      throw err;
    }
  });
manager.add(bench);

const running = manager.start();
running.catch((err: Error) => {
  process.stderr.write(`operator: manager failed: ${err.message}\n`);
  process.exit(1);
});
await manager.whenLeading();
send({ type: "synced", loaded, synced: Date.now() });

const progress = setInterval(
  () => send({ type: "progress", converged: converged.size, reconciles: counts.reconciles }),
  2_000,
);
await whenConverged;
clearInterval(progress);
const cpu = process.cpuUsage();
send({ type: "converged", at: Date.now(), cpuSeconds: (cpu.user + cpu.system) / 1e6 });
const atConverged = snapshot();

// The operator's own writes come back as watch events and reconcile once more (finding nothing to do): wait until
// the queue has been idle for a second, at most 30 s, so that the totals include that tail.
const queue = bench.workQueue;
for (let idleSince = Date.now(), deadline = Date.now() + 30_000; Date.now() < deadline; ) {
  if (queue && (queue.depth > 0 || queue.inFlight > 0)) idleSince = Date.now();
  else if (Date.now() - idleSince >= 1_000) break;
  await new Promise((r) => setTimeout(r, 50));
}
clearInterval(heapSampler);
const atIdle = snapshot();
const maxRssBytes = process.resourceUsage().maxRSS * 1024;
globalThis.gc?.();
const heapUsedBytes = process.memoryUsage().heapUsed;
await manager.stop();
await running;
await client.close();
send({ type: "result", atConverged, atIdle, maxRssBytes, loadedRssBytes, peakHeapUsedBytes, heapUsedBytes }, () =>
  process.exit(0),
);

function snapshot(): Counts {
  return { ...counts, requests: { ...counts.requests } };
}
