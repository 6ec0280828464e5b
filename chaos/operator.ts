/**
 * The chaos suite's Converge operator, one replica per process, written as a Converge user writes one. Modes:
 *
 * - `ledger` (default): a reconcile per Task that leaves the step's effect (see task.ts) unless a live list shows
 *   it already there, then records `status.applied`. A duplicate can come only from the framework: a write sent
 *   twice, two leaders, or two reconciles of one key at once.
 * - `handlers`: the handler style, two `onCreate` handlers (the second fails its first CHAOS_FAIL_FIRST runs per
 *   task before its effect) and an `onUpdate`, with a delete handler (so a finalizer) and, with
 *   CHAOS_PREDICATE=generation, a `generationChanged` predicate. Each handler's effect is labelled with its id.
 * - `children`: declarative children, `spec.step` ConfigMaps per Task (`<task>-c<i>`); fewer steps prune the rest.
 *
 * Environment: KUBECONFIG, CHAOS_NAMESPACE, CHAOS_IDENTITY (the writer label and lease identity), CHAOS_WORKERS
 * (default 4), CHAOS_LEASE=`<duration>/<renew deadline>/<retry period>` in ms (default 4000/3000/500),
 * CHAOS_MODE, CHAOS_PREDICATE, CHAOS_FAIL_FIRST. It prints one JSON line on stdout, `{"debug": <port>}`: a
 * 127.0.0.1 endpoint whose /state tells whether it leads and what its Task cache holds, and whose
 * /clock?stepMs=N steps the wall clock leader election reads by N ms.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "../src/client/index.ts";
import { child, controller, createLogger, generationChanged } from "../src/controller/index.ts";
import { Manager } from "../src/manager/index.ts";
import { corev1 } from "../src/types/index.ts";
import { effectFor, effectSelector, label, Task } from "./task.ts";

const env = process.env;
const namespace = need("CHAOS_NAMESPACE");
const identity = need("CHAOS_IDENTITY");
const workers = Number(env.CHAOS_WORKERS ?? "4");
const [leaseDurationMs, renewDeadlineMs, retryPeriodMs] = (env.CHAOS_LEASE ?? "4000/3000/500").split("/").map(Number);
const mode = env.CHAOS_MODE ?? "ledger";
const failFirst = Number(env.CHAOS_FAIL_FIRST ?? "0");
const predicates = env.CHAOS_PREDICATE === "generation" ? [generationChanged] : [];

// The wall clock leader election reads, steppable through the debug endpoint (the clock-step scenario): a wall
// clock jumping must not extend or shorten leadership, which is measured on the monotonic clock only.
let wallOffsetMs = 0;
const clock = { monotonic: () => performance.now(), wall: () => new Date(Date.now() + wallOffsetMs) };

const log = createLogger({ level: "warn", destination: process.stderr });
const client = await Client.connect({
  kubeconfig: need("KUBECONFIG"),
  fieldManager: "chaos-operator",
  userAgent: `chaos-operator/${identity} (converge)`,
});
const manager = await Manager.create({
  name: "chaos-operator",
  client,
  namespace,
  log,
  leaderElection: {
    namespace,
    leaseName: "chaos-operator-leader",
    // A restarted replica is a new candidate (as a new pod is), not the holder coming back.
    identity: `${identity}_${process.pid}`,
    clock,
    ...(leaseDurationMs ? { leaseDurationMs } : {}),
    ...(renewDeadlineMs ? { renewDeadlineMs } : {}),
    ...(retryPeriodMs ? { retryPeriodMs } : {}),
  },
  shutdownTimeoutMs: 5_000,
});

const effect = (task: Task, id?: string): corev1.ConfigMap => {
  const e = effectFor(task, identity);
  if (id && e.metadata?.labels) e.metadata.labels[label.step] = id;
  return e;
};

if (mode === "ledger") {
  manager.add(
    controller("ledger")
      .for(Task)
      .withOptions({ maxConcurrentReconciles: workers })
      .reconcile(async (task, ctx) => {
        const { name, namespace } = task.metadata;
        const step = task.spec.step;
        if (task.status?.applied === step) return undefined;
        // A live read, not the cache: whether the effect exists must not depend on how far the watch has got.
        const done = await ctx.client.list(corev1.ConfigMap, {
          namespace,
          labelSelector: effectSelector(name, step),
          signal: ctx.signal,
        });
        if (done.items.length === 0) await ctx.client.create(corev1.ConfigMap, effect(task), { signal: ctx.signal });
        await ctx.status((status) => {
          status.applied = step;
        });
        return undefined;
      }),
  );
} else if (mode === "handlers") {
  const failures = new Map<string, number>();
  const write = async (task: Task, id: string, signal: AbortSignal) => {
    await client.create(corev1.ConfigMap, effect(task, id), { signal });
  };
  manager.add(
    controller("ledger-handlers")
      .for(Task, { predicates })
      .withOptions({ maxConcurrentReconciles: workers, backoff: { baseMs: 50, maxMs: 2_000 } })
      .handlers((on) =>
        on
          .onCreate((task, ctx) => write(task, "create-1", ctx.signal), "create-1")
          .onCreate(async (task, ctx) => {
            const name = task.metadata.name;
            const n = failures.get(name) ?? 0;
            if (n < failFirst) {
              failures.set(name, n + 1);
              throw new Error(`create-2 fails its first ${failFirst} runs (run ${n + 1})`);
            }
            await write(task, "create-2", ctx.signal);
          }, "create-2")
          .onUpdate((task, _old, ctx) => write(task, `update-${task.spec.step}`, ctx.signal), "update")
          .onDelete(async () => {}, "delete"),
      ),
  );
} else if (mode === "children") {
  manager.add(
    controller("ledger-children")
      .for(Task, { predicates })
      .owns(corev1.ConfigMap)
      .withOptions({ maxConcurrentReconciles: workers })
      .children((task) =>
        Array.from({ length: task.spec.step }, (_, i) =>
          child(corev1.ConfigMap, {
            metadata: {
              name: `${task.metadata.name}-c${i}`,
              labels: { [label.child]: task.metadata.name, [label.writer]: identity },
            },
            data: { step: String(task.spec.step) },
          }),
        ),
      ),
  );
} else {
  process.stderr.write(`unknown CHAOS_MODE ${mode}\n`);
  process.exit(2);
}

const debug = createServer((req, res) => {
  const step = /^\/clock\?stepMs=(-?\d+)$/.exec(req.url ?? "");
  if (step) {
    wallOffsetMs += Number(step[1]);
    res.writeHead(200).end(String(wallOffsetMs));
    return;
  }
  if (req.url !== "/state") {
    res.writeHead(404).end();
    return;
  }
  const cached = manager.cache.informers().find((i) => i.type.kind === "Task");
  const tasks = cached ? [...cached.store.values()].map((t) => [t.metadata?.name, t.metadata?.resourceVersion]) : [];
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ identity, leader: manager.isLeader, tasks, rssBytes: process.memoryUsage().rss }));
});
debug.listen({ host: "127.0.0.1", port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ debug: (debug.address() as AddressInfo).port })}\n`);
});

try {
  await manager.start({ handleSignals: true });
  debug.close();
  await client.close();
  process.exit(0);
} catch (err) {
  log.error({ err: (err as Error).message }, "manager stopped");
  process.exit(1);
}

function need(name: string): string {
  const v = env[name];
  if (!v) {
    process.stderr.write(`${name} is not set\n`);
    process.exit(2);
  }
  return v;
}
