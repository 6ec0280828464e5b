/**
 * The chaos scenarios. Each starts replicas of one peer in a fresh namespace, puts load on them, injects its
 * fault, ends it, and reports what the invariants say: effects lost or duplicated (the ledger), leader overlap,
 * time to converge once the fault ended, and the request rate during the fault.
 */
import type { ControlPlane } from "../src/cluster/control-plane.ts";
import {
  countChildren,
  countHandlers,
  countLedger,
  type LeaseChange,
  type LedgerCount,
  leaderOverlap,
} from "./ledger.ts";
import { Task, taskName } from "./task.ts";
import { type PeerName, type Replica, sleep, type World } from "./world.ts";

export interface Size {
  quick: boolean;
  /** Tasks of the ordinary scenarios. */
  tasks: number;
  /** Tasks of the 429 storm. */
  stormTasks: number;
  /** How long most faults last (ms). */
  faultMs: number;
  /** How long the watch-cut scenario runs (ms) and how often it cuts. */
  watchCutMs: number;
  watchCutEveryMs: number;
}

export const sizes = {
  quick: { quick: true, tasks: 100, stormTasks: 500, faultMs: 12_000, watchCutMs: 40_000, watchCutEveryMs: 8_000 },
  full: { quick: false, tasks: 500, stormTasks: 5_000, faultMs: 40_000, watchCutMs: 600_000, watchCutEveryMs: 20_000 },
} satisfies Record<string, Size>;

export interface ScenarioResult {
  scenario: string;
  peer: PeerName;
  /** What was injected, with counts. */
  faults: string;
  lost: number;
  duplicates: number;
  overlapMs: number;
  leaderChanges: number;
  /** Seconds from the end of the fault until every task converged; undefined if it never did. */
  convergeS: number | undefined;
  /** Seconds from the fault to a new leader's first lease write, where the leader was the target. */
  takeoverS?: number;
  /** Requests per second through the replicas' proxies during the fault. */
  requestsPerS: number;
  notes: string[];
  /** Invariants the run broke (empty: it passed). */
  failures: string[];
}

/** What a scenario's run tells the harness. */
interface Run {
  faults: string;
  faultStart: number;
  faultEnd: number;
  mode?: "ledger" | "handlers" | "children";
  /** Handler mode: the effect ids each task must have. */
  expected?: (t: Task) => string[];
  takeoverS?: number;
  external?: LeaseChange[];
  notes?: string[];
  failures?: string[];
  /** Extra time allowed to converge (default 90 s). */
  convergeTimeoutMs?: number;
  /** Checks made once convergence was timed (so that their own time does not count as the peer's). */
  verify?: () => Promise<{ notes: string[]; failures: string[] }>;
}

export interface Scenario {
  name: string;
  title: string;
  peers: readonly PeerName[];
  /** The CI-sized run (`--quick`) runs the other peers only where this is set, to stay within its time budget. */
  compareInQuick?: boolean;
  run(w: World, size: Size, plane: ControlPlane): Promise<Run>;
}

/** Bumps random tasks' steps until stopped: the write load that faults meet. */
function load(w: World, tasks: number, perTick = 5, tickMs = 250): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      const names = Array.from({ length: perTick }, () => taskName(Math.floor(Math.random() * tasks)));
      await w.bump([...new Set(names)]).catch(() => undefined);
      await sleep(tickMs);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/** Replicas started and a first round converged, so that the fault meets a warm, steady operator. */
async function steady(w: World, size: Size, replicas: number, tasks = size.tasks): Promise<Replica> {
  await w.createTasks(0, tasks);
  await w.startReplicas(replicas);
  const { replica } = await w.waitForLeader();
  const ok = await w.until(async () => (await w.tasks()).every((t) => t.status?.applied === t.spec.step), 120_000);
  if (ok === undefined) throw new Error("the operator did not converge before the fault");
  return replica;
}

/** Seconds from `from` to the first lease write of a replica other than `old`, if one came. */
async function takeover(w: World, old: Replica, from: number, timeoutMs: number): Promise<number | undefined> {
  const t = await w.waitForLeader({ not: old, timeoutMs }).catch(() => undefined);
  return t ? (t.at - from) / 1000 : undefined;
}

export const scenarios: Scenario[] = [
  {
    name: "leader-partition",
    title: "the leader's connections freeze (half-open) for a while, 3 replicas",
    peers: ["converge", "controller-runtime"],
    compareInQuick: true,
    async run(w, size) {
      const leader = await steady(w, size, 3);
      const stop = load(w, size.tasks);
      const faultStart = Date.now();
      leader.proxy.partition();
      const takeoverS = await takeover(w, leader, faultStart, size.faultMs + 30_000);
      await sleep(Math.max(0, faultStart + size.faultMs - Date.now()));
      leader.proxy.heal();
      const faultEnd = Date.now();
      await stop();
      const limit = (w.leaseMs.duration + 2_000) / 1000;
      return {
        faults: `1 partition of ${size.faultMs / 1000} s`,
        faultStart,
        faultEnd,
        ...(takeoverS !== undefined ? { takeoverS } : {}),
        failures:
          takeoverS === undefined
            ? ["no replica took over"]
            : takeoverS > limit
              ? [`takeover took ${takeoverS.toFixed(1)} s > lease + 2 s`]
              : [],
      };
    },
  },
  {
    name: "lease-renewals-fail",
    title: "the leader's lease renewals hang while its other writes flow, reconciles mid-way",
    peers: ["converge", "controller-runtime"],
    async run(w, size) {
      const leader = await steady(w, size, 2);
      const stop = load(w, size.tasks);
      // Slow creates keep reconciles mid-way when the lease goes.
      const slow = leader.proxy.inject({ verb: "create", resource: "configmaps", action: { delayMs: 400 } });
      const faultStart = Date.now();
      const hang = leader.proxy.inject({ resource: "leases", action: { stall: true } });
      const takeoverS = await takeover(w, leader, faultStart, size.faultMs + 30_000);
      await sleep(Math.max(0, faultStart + size.faultMs - Date.now()));
      hang.remove();
      slow.remove();
      leader.proxy.heal({ held: "reset" });
      const faultEnd = Date.now();
      await stop();
      return {
        faults: `lease requests stalled for ${size.faultMs / 1000} s (${hang.hits} held)`,
        faultStart,
        faultEnd,
        ...(takeoverS !== undefined ? { takeoverS } : {}),
        failures: takeoverS === undefined ? ["no replica took over"] : [],
      };
    },
  },
  {
    name: "lease-stolen",
    title: "the Lease is taken by a holder no replica knows, mid-reconcile",
    peers: ["converge", "controller-runtime"],
    async run(w, size) {
      const leader = await steady(w, size, 2);
      const stop = load(w, size.tasks);
      const slow = leader.proxy.inject({ verb: "create", resource: "configmaps", action: { delayMs: 400 } });
      await sleep(1_000);
      const faultStart = Date.now();
      const seconds = Math.ceil(size.faultMs / 1000);
      await w.stealLease("thief", seconds);
      const stolenAt = Date.now();
      // The old leader learns of the theft when its next look at the Lease is answered; from then on it must not
      // write (writes already on the wire then cannot be recalled: a thief does not wait for the Lease to expire).
      const look = () =>
        leader.proxy.requests.find(
          (r) => r.resource === "leases" && r.at > stolenAt && r.forwarded && r.answeredAt !== undefined,
        );
      const seen = (await w.until(async () => look() !== undefined, 10_000)) && (look()?.answeredAt as number);
      const external: LeaseChange[] = seen ? [{ owner: "thief", at: seen, noticed: true }] : [];
      await sleep(Math.max(0, faultStart + seconds * 1000 + 500 - Date.now()));
      slow.remove();
      const faultEnd = Date.now();
      await stop();
      const notes: string[] = [];
      const failures: string[] = [];
      if (seen) {
        const late = leader.proxy.requests.filter(
          (r) =>
            r.at > seen &&
            r.at < faultEnd &&
            r.forwarded &&
            r.verb !== "get" &&
            r.verb !== "list" &&
            r.verb !== "watch" &&
            r.resource !== "leases" &&
            r.resource !== "events",
        );
        notes.push(`old leader saw the theft ${((seen - stolenAt) / 1000).toFixed(2)} s after it`);
        if (late.length > 0) failures.push(`${late.length} writes by the old leader after it saw the theft`);
      }
      return { faults: "1 lease theft", faultStart, faultEnd, external, notes, failures };
    },
  },
  {
    name: "clock-step",
    title: "the wall clocks step: the leader's back two minutes, the standby's ahead two minutes, under load",
    // Only Converge's clocks can be stepped from outside (its operator reads an injectable clock).
    peers: ["converge"],
    async run(w, size) {
      const leader = await steady(w, size, 2);
      const standby = w.replicas.find((r) => r !== leader);
      if (!standby) throw new Error("no standby");
      const stop = load(w, size.tasks);
      const faultStart = Date.now();
      await leader.stepClock(-120_000);
      await standby.stepClock(120_000);
      await sleep(size.faultMs);
      await leader.stepClock(120_000);
      await standby.stepClock(-120_000);
      const faultEnd = Date.now();
      await stop();
      const changed = await w.waitForLeader({ not: leader, timeoutMs: 1 }).catch(() => undefined);
      return {
        faults: "2 clock steps of 2 min",
        faultStart,
        faultEnd,
        // A clock step is no reason to change leaders: leadership is timed on the monotonic clock.
        failures: changed ? ["the leader changed although only wall clocks stepped"] : [],
      };
    },
  },
  {
    name: "hung-reads",
    title: "a third of the leader's GETs and LISTs are accepted and never answered",
    peers: ["converge", "controller-runtime"],
    async run(w, size) {
      const leader = await steady(w, size, 1);
      const stop = load(w, size.tasks);
      const faultStart = Date.now();
      const rule = leader.proxy.inject({
        verb: ["get", "list"],
        resource: "configmaps",
        action: { stall: true },
        probability: 0.3,
        times: 60,
      });
      await sleep(size.faultMs);
      rule.remove();
      const faultEnd = Date.now();
      await stop();
      return { faults: `${rule.hits} reads stalled`, faultStart, faultEnd };
    },
  },
  {
    name: "post-reset",
    title: "creates reset after the apiserver committed them",
    peers: ["converge", "controller-runtime"],
    async run(w, size) {
      const leader = await steady(w, size, 1);
      const stop = load(w, size.tasks);
      const faultStart = Date.now();
      const rule = leader.proxy.inject({
        verb: "create",
        resource: "configmaps",
        action: { reset: "after" },
        probability: 0.3,
        times: 50,
      });
      await sleep(size.faultMs);
      rule.remove();
      const faultEnd = Date.now();
      await stop();
      return { faults: `${rule.hits} creates reset after commit`, faultStart, faultEnd };
    },
  },
  {
    name: "429-storm",
    title: "half of all requests answered 429 with Retry-After: 1 while thousands of keys are new",
    peers: ["converge", "controller-runtime"],
    compareInQuick: true,
    async run(w, size) {
      const leader = await steady(w, size, 1, 10);
      const faultStart = Date.now();
      const rule = leader.proxy.inject({
        verb: ["get", "list", "create", "update", "patch"],
        action: { status: 429, retryAfterSeconds: 1 },
        probability: 0.5,
      });
      await w.createTasks(10, size.stormTasks - 10);
      await sleep(Math.max(0, faultStart + size.faultMs - Date.now()));
      rule.remove();
      const faultEnd = Date.now();
      return {
        faults: `${rule.hits} answers 429`,
        faultStart,
        faultEnd,
        convergeTimeoutMs: 180_000,
      };
    },
  },
  {
    name: "5xx-brownout",
    title: "30 % of requests answered 503 or 500",
    peers: ["converge", "controller-runtime"],
    async run(w, size) {
      const leader = await steady(w, size, 1);
      const stop = load(w, size.tasks);
      const faultStart = Date.now();
      const r503 = leader.proxy.inject({
        verb: ["get", "list", "create", "patch", "update"],
        action: { status: 503 },
        probability: 0.2,
      });
      const r500 = leader.proxy.inject({
        verb: ["get", "list", "create", "patch", "update"],
        action: { status: 500 },
        probability: 0.1,
      });
      await sleep(size.faultMs);
      r503.remove();
      r500.remove();
      const faultEnd = Date.now();
      await stop();
      return { faults: `${r503.hits} × 503, ${r500.hits} × 500`, faultStart, faultEnd };
    },
  },
  {
    name: "watch-cuts",
    title: "watches cut every few seconds, some expired (410), deletes and creates while they are down",
    peers: ["converge", "controller-runtime"],
    compareInQuick: true,
    async run(w, size) {
      const leader = await steady(w, size, 1);
      const stop = load(w, size.tasks);
      const faultStart = Date.now();
      let cuts = 0;
      let expired = 0;
      let deleted = 0;
      let created = 0;
      const rss: number[] = [];
      let next = size.tasks;
      for (let round = 0; Date.now() - faultStart < size.watchCutMs; round++) {
        // The next watch of Tasks waits 3 s, or is told its resourceVersion expired: events meanwhile are missed
        // by the stream and must come back through a resumed watch or a relist.
        if (round % 2 === 1) {
          leader.proxy.inject({ verb: "watch", resource: "tasks", action: { expire: true }, times: 1 });
          expired++;
        } else leader.proxy.inject({ verb: "watch", resource: "tasks", action: { delayMs: 3_000 }, times: 1 });
        cuts += leader.proxy.cutWatches();
        const victims = Array.from({ length: 3 }, () => taskName(Math.floor(Math.random() * size.tasks)));
        for (const name of new Set(victims)) {
          await w.client.delete(Task, { namespace: w.namespace, name }).then(
            () => deleted++,
            () => undefined,
          );
        }
        await w.createTasks(next, 2);
        next += 2;
        created += 2;
        const s = await leader.state();
        if (s) rss.push(s.rssBytes);
        await sleep(size.watchCutEveryMs);
      }
      const faultEnd = Date.now();
      await stop();
      const notes: string[] = [];
      const failures: string[] = [];
      if (rss.length >= 4) {
        const first = (rss[1] as number) / 2 ** 20;
        const last = (rss.at(-1) as number) / 2 ** 20;
        notes.push(`RSS ${first.toFixed(0)} → ${last.toFixed(0)} MB`);
        if (size.watchCutMs >= 300_000 && last > first * 1.25) failures.push("RSS grew by more than 25 %");
      }
      // Converge exposes its cache: it must equal a fresh list once the watches settle.
      const verify = async () => {
        if (w.peer.name !== "converge") return { notes: [], failures: [] };
        await sleep(3_000);
        const fresh = new Map((await w.tasks()).map((t) => [t.metadata?.name ?? "", t.metadata?.resourceVersion]));
        const same = await w.until(async () => {
          const s = await leader.state();
          if (!s) return false;
          const cached = new Map(s.tasks);
          const now = new Map((await w.tasks()).map((t) => [t.metadata?.name ?? "", t.metadata?.resourceVersion]));
          return cached.size === now.size && [...now].every(([k, v]) => cached.get(k) === v);
        }, 30_000);
        return same === undefined
          ? { notes: [], failures: [`the cache differs from a fresh list (${fresh.size} tasks)`] }
          : { notes: ["cache equals a fresh list"], failures: [] };
      };
      return {
        faults: `${cuts} watch cuts, ${expired} expired, ${deleted} deletes and ${created} creates in the gaps`,
        faultStart,
        faultEnd,
        notes,
        failures,
        verify,
      };
    },
  },
  {
    name: "apiserver-kill",
    title: "kube-apiserver killed with SIGKILL under write load, back after 2 s",
    peers: ["converge", "controller-runtime"],
    async run(w, size, plane) {
      await steady(w, size, 1);
      const stop = load(w, size.tasks);
      await sleep(1_000);
      const faultStart = Date.now();
      await plane.restart("kube-apiserver", { kill: true, downMs: 2_000 });
      const faultEnd = Date.now();
      await sleep(3_000);
      await stop();
      return { faults: "1 apiserver SIGKILL", faultStart, faultEnd };
    },
  },
  {
    name: "operator-kill",
    title: "the leader killed with SIGKILL mid-reconcile, 2 replicas",
    peers: ["converge", "controller-runtime"],
    async run(w, size) {
      const leader = await steady(w, size, 2);
      const stop = load(w, size.tasks);
      leader.proxy.inject({ verb: "create", resource: "configmaps", action: { delayMs: 400 } });
      await sleep(1_500);
      const faultStart = Date.now();
      leader.kill("SIGKILL");
      const takeoverS = await takeover(w, leader, faultStart, 60_000);
      const faultEnd = Date.now();
      leader.proxy.clear();
      await sleep(2_000);
      await stop();
      const limit = (w.leaseMs.duration + 2_000) / 1000;
      return {
        faults: "1 SIGKILL of the leader",
        faultStart,
        faultEnd,
        ...(takeoverS !== undefined ? { takeoverS } : {}),
        failures:
          takeoverS === undefined
            ? ["no replica took over"]
            : takeoverS > limit
              ? [`takeover took ${takeoverS.toFixed(1)} s > lease + 2 s`]
              : [],
      };
    },
  },
  {
    name: "handlers-partial-failure",
    title: "two onCreate handlers, the second failing its first 3 runs; then one update",
    peers: ["converge"],
    async run(w, size) {
      const n = Math.min(size.tasks, 50);
      await w.createTasks(0, n);
      await w.startReplicas(1, { mode: "handlers", env: { CHAOS_FAIL_FIRST: "3" } });
      const faultStart = Date.now();
      const created = await w.until(async () => (await w.effects()).length >= 2 * n, 120_000);
      await w.bump(Array.from({ length: n }, (_, i) => taskName(i)));
      const faultEnd = Date.now();
      return {
        faults: `${3 * n} handler failures`,
        faultStart,
        faultEnd,
        mode: "handlers",
        expected: (t) => ["create-1", "create-2", `update-${t.spec.step}`],
        failures: created === undefined ? ["the create handlers did not all run"] : [],
      };
    },
  },
  {
    name: "generation-finalizer",
    title: "generationChanged predicates with a finalizer: new objects are handled without a spec change",
    peers: ["converge"],
    async run(w, size) {
      const n = Math.min(size.tasks, 50);
      await w.startReplicas(1, { mode: "handlers", env: { CHAOS_PREDICATE: "generation" } });
      await w.waitForLeader();
      const faultStart = Date.now();
      await w.createTasks(0, n);
      const faultEnd = Date.now();
      return {
        faults: `${n} creates, no spec change`,
        faultStart,
        faultEnd,
        mode: "handlers",
        expected: () => ["create-1", "create-2"],
        convergeTimeoutMs: 30_000,
      };
    },
  },
  {
    name: "prune-restart",
    title: "declarative children: fewer wanted while the operator is down; pruned after its restart",
    peers: ["converge"],
    async run(w, size) {
      const n = Math.min(size.tasks, 50);
      await w.createTasks(0, n, 3);
      const [replica] = await w.startReplicas(1, { mode: "children" });
      const settled = await w.until(async () => (await w.children()).length === 3 * n, 120_000);
      await replica?.stop();
      const faultStart = Date.now();
      for (let i = 0; i < n; i++) {
        await w.client.patch(Task, { namespace: w.namespace, name: taskName(i) }, "merge", {
          spec: { step: 1 },
        });
      }
      replica?.resume();
      const faultEnd = Date.now();
      return {
        faults: "operator stopped, 2 of 3 children unwanted meanwhile",
        faultStart,
        faultEnd,
        mode: "children",
        failures: settled === undefined ? ["the children were not all made before the restart"] : [],
      };
    },
  },
];

/** Runs one scenario on a fresh world and judges it. */
export async function judge(scenario: Scenario, w: World, size: Size, plane: ControlPlane): Promise<ScenarioResult> {
  const run = await scenario.run(w, size, plane);
  const mode = run.mode ?? "ledger";
  const converged = async (): Promise<boolean> => {
    const tasks = await w.tasks();
    if (mode === "ledger") return tasks.every((t) => t.status?.applied === t.spec.step);
    if (mode === "handlers") return countHandlers(tasks, await w.effects(), run.expected ?? (() => [])).lost === 0;
    return countChildren(tasks, await w.children()).lost === 0;
  };
  const at = await w.until(converged, run.convergeTimeoutMs ?? 90_000);
  const verified = (await run.verify?.()) ?? { notes: [], failures: [] };
  // Effects still in flight when the check passed would be missed: a little settling before counting.
  await sleep(1_000);
  const tasks = await w.tasks();
  let counted: LedgerCount;
  if (mode === "ledger") counted = countLedger(tasks, await w.effects());
  else if (mode === "handlers") counted = countHandlers(tasks, await w.effects(), run.expected ?? (() => []));
  else counted = countChildren(tasks, await w.children());
  const overlap = leaderOverlap(
    w.replicas.map((r) => ({ identity: r.identity, requests: r.proxy.requests })),
    run.external ?? [],
  );
  const during = w.replicas.reduce(
    (n, r) => n + r.proxy.requests.filter((q) => q.at >= run.faultStart && q.at <= run.faultEnd).length,
    0,
  );
  const failures = [...(run.failures ?? []), ...verified.failures];
  if (counted.lost > 0) failures.push(`${counted.lost} effects lost`);
  if (counted.duplicates > 0) failures.push(`${counted.duplicates} effects duplicated`);
  if (overlap.overlapMs > 0) failures.push(`leader overlap ${overlap.overlapMs} ms`);
  if (at === undefined) failures.push("did not converge");
  const restarts = w.replicas.reduce((n, r) => n + r.restarts, 0);
  return {
    scenario: scenario.name,
    peer: w.peer.name,
    faults: run.faults,
    lost: counted.lost,
    duplicates: counted.duplicates,
    overlapMs: overlap.overlapMs,
    leaderChanges: overlap.changes,
    convergeS: at === undefined ? undefined : Math.max(0, (at - run.faultEnd) / 1000),
    ...(run.takeoverS !== undefined ? { takeoverS: run.takeoverS } : {}),
    requestsPerS: during / Math.max(0.001, (run.faultEnd - run.faultStart) / 1000),
    notes: [...(run.notes ?? []), ...verified.notes, ...(restarts ? [`${restarts} replica restarts`] : [])],
    failures,
  };
}
