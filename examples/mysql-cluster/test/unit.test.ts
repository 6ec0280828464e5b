/**
 * The operator's decisions as pure functions, without a cluster: who to promote, in what order pods restart,
 * when the autoscaler acts (and when it must not), which schedule slot is due, what retention deletes, the
 * backoff of backup attempts, and the conversion between the API's versions.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { MySQLCluster, MySQLClusterV1alpha1 } from "../src/api/cluster.ts";
import { backoffMs, dueSlot, expired, nextSlot, scheduledBackupName } from "../src/backup/schedule.ts";
import { type AutoscalePolicy, autoscale, recommend } from "../src/cluster/autoscale.ts";
import type { PodView } from "../src/cluster/pods.ts";
import { nextRestart, restartOrder, revisionHash } from "../src/cluster/rollout.ts";
import { chooseCandidate, primaryHealth } from "../src/cluster/topology.ts";
import { toV1alpha1, toV1beta1 } from "../src/conversion.ts";

const pod = (ordinal: number, over: Partial<PodView> = {}): PodView => ({
  name: `db-${ordinal}`,
  ordinal,
  uid: `uid-${ordinal}`,
  ready: true,
  readyChangedAt: "2026-01-01T00:00:00Z",
  terminating: false,
  failed: false,
  role: ordinal === 0 ? "primary" : "replica",
  revision: "r1",
  lagSeconds: undefined,
  load: undefined,
  ...over,
});
const now = new Date("2026-01-01T00:01:00Z");

test("primary health: gone, replaced, deleting or failed at once; unready only after the grace; a planned restart is not a failure", () => {
  const record = { pod: "db-0", uid: "uid-0" };
  assert.deepEqual(primaryHealth(record, [pod(0)], now, 10_000, undefined), { state: "healthy" });
  assert.equal(primaryHealth(record, [pod(1)], now, 10_000, undefined).state, "failed");
  assert.deepEqual(primaryHealth(record, [pod(0, { uid: "other" })], now, 10_000, undefined), {
    state: "failed",
    reason: "primary pod db-0 was replaced",
  });
  assert.equal(primaryHealth(record, [pod(0, { terminating: true })], now, 10_000, undefined).state, "failed");
  assert.equal(primaryHealth(record, [pod(0, { failed: true, ready: false })], now, 10_000, undefined).state, "failed");
  const unready = pod(0, { ready: false, readyChangedAt: "2026-01-01T00:00:55Z" });
  assert.deepEqual(primaryHealth(record, [unready], now, 10_000, undefined), {
    state: "unready",
    recheckAfterMs: 5_000,
  });
  assert.deepEqual(primaryHealth(record, [unready], now, 4_000, undefined), {
    state: "failed",
    reason: "primary pod db-0 not ready for 4s",
  });
  assert.deepEqual(primaryHealth(record, [], now, 10_000, "db-0"), { state: "restarting" });
});

test("promotion: the ready replica with the least lag, then the lowest ordinal; never the old primary or one about to go", () => {
  const pods = [pod(0), pod(1, { lagSeconds: 3 }), pod(2, { lagSeconds: 1 }), pod(3)];
  assert.equal(chooseCandidate(pods, "db-0")?.name, "db-2");
  assert.equal(chooseCandidate([pod(0), pod(1), pod(2)], "db-0")?.name, "db-1", "no lag reported: lowest ordinal");
  assert.equal(chooseCandidate([pod(0), pod(1, { ready: false }), pod(2, { terminating: true })], "db-0"), undefined);
  assert.equal(chooseCandidate(pods, "db-0", 2)?.name, "db-1", "below the ordinal kept by a scale-down");
});

test("rollouts: replicas from the highest ordinal, the primary last; one pod at a time, only when all are ready", () => {
  const pods = [pod(0), pod(1), pod(2), pod(3)];
  assert.deepEqual(
    restartOrder(pods, "db-1").map((p) => p.name),
    ["db-3", "db-2", "db-0", "db-1"],
  );
  const step = nextRestart(pods, "db-0", "r2", 4, "forward");
  assert.equal(step.kind === "restart" && step.pod.name, "db-3");
  const waiting = nextRestart(
    [pod(0), pod(1), pod(2, { revision: "r2", ready: false }), pod(3, { revision: "r2" })],
    "db-0",
    "r2",
    4,
    "forward",
  );
  assert.deepEqual(waiting, { kind: "wait", reason: "waiting for db-2 to be ready" });
  assert.deepEqual(nextRestart([pod(0, { revision: "r2" }), pod(1, { revision: "r2" })], "db-0", "r2", 2, "forward"), {
    kind: "done",
  });
  assert.deepEqual(
    nextRestart([pod(0, { revision: "r2" })], "db-0", "r2", 2, "forward").kind,
    "wait",
    "a pod still to be created",
  );
  // Rolling back, the broken pod goes first, without waiting for it to be ready.
  const back = nextRestart([pod(0), pod(1), pod(2, { revision: "bad", ready: false })], "db-0", "r1", 3, "back");
  assert.equal(back.kind === "restart" && back.pod.name, "db-2");
  assert.equal(
    revisionHash({ version: "8.0", podAnnotations: { a: "1", b: "2" } }),
    revisionHash({ version: "8.0", podAnnotations: { b: "2", a: "1" } }),
  );
  assert.notEqual(revisionHash({ version: "8.0" }), revisionHash({ version: "8.4" }));
});

const policy: AutoscalePolicy = {
  min: 1,
  max: 5,
  targetLoadPerReplica: 100,
  tolerancePercent: 20,
  scaleUpAfterMs: 30_000,
  scaleDownAfterMs: 300_000,
};
const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));

test("autoscaling: inside the tolerance nothing moves; outside it, after the window; bounds at once", () => {
  assert.equal(recommend(2, [110, 100], policy), 2, "within 20 %");
  assert.equal(recommend(2, [200, 200], policy), 4);
  assert.equal(recommend(2, [900, 900], policy), 5, "at most max");
  assert.equal(recommend(2, [], policy), 2, "no data, no change");
  const first = autoscale(2, [200, 200], policy, undefined, at(0));
  assert.deepEqual(first.pending, { readReplicas: 4, since: at(0) });
  assert.equal(first.readReplicas, 2);
  assert.equal(first.recheckAfterMs, 30_000);
  const later = autoscale(2, [200, 200], policy, first.pending, at(30));
  assert.equal(later.readReplicas, 4);
  assert.equal(later.pending, undefined);
  assert.equal(autoscale(7, [], policy, undefined, at(0)).readReplicas, 5, "a lower max applies at once");
});

test("autoscaling: a load that flaps around the threshold never scales", () => {
  let replicas = 3;
  let pending: ReturnType<typeof autoscale>["pending"];
  // Every 10 s for 20 minutes: low enough to ask for 2, then back in the band.
  for (let s = 0; s < 1200; s += 10) {
    const loads = (s / 10) % 2 === 0 ? [50, 50, 50] : [100, 100, 100];
    const d = autoscale(replicas, loads, policy, pending, at(s));
    replicas = d.readReplicas;
    pending = d.pending;
  }
  assert.equal(replicas, 3);
  // The window keeps the most conservative recommendation: down to the largest seen.
  const a = autoscale(4, [40, 40, 40, 40], policy, undefined, at(0));
  const b = autoscale(4, [70, 70, 70, 70], policy, a.pending, at(100));
  assert.deepEqual(b.pending, { readReplicas: 3, since: at(0) });
  assert.equal(autoscale(4, [70, 70, 70, 70], policy, b.pending, at(300)).readReplicas, 3);
});

test("schedule: the latest due slot once, none before the cluster existed; names from the slot; retention and backoff", () => {
  const created = new Date("2026-01-01T00:00:00Z");
  assert.deepEqual(
    dueSlot("*/10 * * * * *", new Date("2026-01-01T00:00:35Z"), created, undefined),
    new Date("2026-01-01T00:00:30Z"),
  );
  assert.equal(
    dueSlot("*/10 * * * * *", new Date("2026-01-01T00:00:35Z"), created, new Date("2026-01-01T00:00:30Z")),
    undefined,
  );
  assert.deepEqual(
    dueSlot("*/10 * * * * *", new Date("2026-01-01T00:00:30Z"), created, undefined),
    new Date("2026-01-01T00:00:30Z"),
  );
  assert.equal(dueSlot("0 2 * * *", new Date("2026-01-01T01:00:00Z"), created, undefined), undefined);
  assert.deepEqual(nextSlot("@daily", new Date("2026-01-01T01:00:00Z")), new Date("2026-01-02T00:00:00Z"));
  assert.equal(scheduledBackupName("db", new Date("2026-01-02T03:04:05Z")), "db-20260102t030405");
  const backups = [
    { name: "a", slot: "2026-01-01T00:00:00Z", finished: true },
    { name: "c", slot: "2026-01-03T00:00:00Z", finished: true },
    { name: "b", slot: "2026-01-02T00:00:00Z", finished: false },
    { name: "d", slot: "2026-01-04T00:00:00Z", finished: true },
  ];
  assert.deepEqual(expired(backups, 2), ["a"], "b is still running: kept for now");
  assert.deepEqual(
    [2, 3, 4].map((n) => backoffMs(n, 30)),
    [30_000, 60_000, 120_000],
  );
});

test("conversion: v1alpha1 → v1beta1 → v1alpha1 loses nothing, and v1beta1's own fields survive a trip through v1alpha1", () => {
  const old: MySQLClusterV1alpha1 = {
    apiVersion: "db.example.com/v1alpha1",
    kind: "MySQLCluster",
    metadata: { name: "db" },
    spec: { version: "8.0", replicas: 3, storageSize: "5Gi", backupSchedule: "@daily" },
  };
  const hub = toV1beta1(old);
  assert.deepEqual(hub.spec, {
    version: "8.0",
    readReplicas: { min: 2 },
    storage: { size: "5Gi" },
    backup: { schedule: "@daily" },
  });
  assert.deepEqual(toV1alpha1(hub).spec, old.spec);
  const rich: MySQLCluster = {
    metadata: { name: "db" },
    spec: {
      version: "8.4",
      readReplicas: { min: 1, max: 4 },
      storage: { size: "1Gi", whenDeleted: "Delete" },
      backup: { schedule: "0 2 * * *", keep: 3 },
      autoscaling: { targetLoadPerReplica: 50 },
      config: { max_connections: "100" },
    },
  };
  const down = toV1alpha1(rich);
  assert.deepEqual(down.spec, { version: "8.4", replicas: 2, storageSize: "1Gi", backupSchedule: "0 2 * * *" });
  assert.deepEqual(toV1beta1(down).spec, rich.spec);
  assert.equal(toV1beta1(down).metadata?.annotations, undefined, "the stash is taken back");
});
