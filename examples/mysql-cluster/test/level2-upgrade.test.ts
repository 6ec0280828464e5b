/**
 * Level 2, seamless upgrades: a version change takes a backup first, then restarts read replicas (highest ordinal
 * first) and the primary last, one pod at a time, each only once every pod is ready; a pod that does not become
 * ready stops the rollout, which goes back to the revision the pods ran, with a condition saying why. The pod that
 * never becomes ready is kwok's: the plane holds pods annotated `kwok.converge.dev/hold` Pending, as a real
 * cluster would an image that cannot be pulled or a server that keeps crashing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { corev1 } from "converge-sdk";
import { holdAnnotation } from "converge-sdk/cluster";
import type { MySQLBackup } from "../src/api/backup.ts";
import { MySQLCluster } from "../src/api/cluster.ts";
import {
  backupsOf,
  client,
  clusterWhen,
  eventCount,
  eventsOf,
  isReady,
  plane,
  podsOf,
  readyCluster,
  smallCluster,
  startOperator,
} from "./helpers.ts";

interface PodEvent {
  at: number;
  type: string;
  name: string;
  uid: string;
  ready: boolean;
}

/** Every event of the namespace's pods, in order. */
function watchPods(namespace: string) {
  const events: PodEvent[] = [];
  const abort = new AbortController();
  void (async () => {
    for await (const e of client.watch(corev1.Pod, { namespace, signal: abort.signal })) {
      const p = e.object;
      events.push({
        at: Date.now(),
        type: e.type,
        name: p.metadata?.name ?? "",
        uid: p.metadata?.uid ?? "",
        ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true,
      });
    }
  })().catch(() => {});
  return { events, stop: () => abort.abort() };
}

/** The pods deleted, in order (the first deletion mark of each incarnation). */
function deletions(events: PodEvent[], uids: Set<string>): PodEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    if (!uids.has(e.uid) || seen.has(e.uid) || e.type !== "DELETED") return false;
    seen.add(e.uid);
    return true;
  });
}

test("level 2: a version change backs up first, then restarts replicas then the primary, one at a time, each on the readiness of all", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(MySQLCluster, smallCluster(namespace, "up"));
  await readyCluster(namespace, "up");
  const original = new Set((await podsOf(namespace, "up")).map((p) => p.metadata?.uid ?? ""));
  const watch = watchPods(namespace);
  t.after(() => watch.stop());
  await client.patch(MySQLCluster, { namespace, name: "up" }, "merge", { spec: { version: "8.4" } });
  const done = await clusterWhen(
    namespace,
    "up",
    (c) => c.status?.currentVersion === "8.4" && isReady(c),
    "on 8.4 and Ready",
  );
  assert.equal(done.status?.rollout, undefined);
  const pods = await podsOf(namespace, "up");
  assert.deepEqual(
    pods.map((p) => p.spec?.containers[0]?.image),
    ["mysql:8.4", "mysql:8.4", "mysql:8.4"],
  );
  const order = deletions(watch.events, original);
  assert.deepEqual(
    order.map((e) => e.name),
    ["up-2", "up-1", "up-0"],
    "replicas from the highest ordinal, the primary last, each once",
  );
  // Each restart waited for the previous pod to come back ready.
  for (let i = 1; i < order.length; i++) {
    const previous = order[i - 1] as PodEvent;
    const back = watch.events.find((e) => e.name === previous.name && !original.has(e.uid) && e.ready);
    assert.ok(
      back && back.at <= (order[i] as PodEvent).at,
      `${previous.name} ready again before ${order[i]?.name} went`,
    );
  }
  assert.equal(done.status?.primary, "up-0", "the primary was restarted in place, not failed over");
  assert.equal(done.status?.failovers, undefined);
  // The pre-upgrade backup completed before the first pod went.
  const backups = (await backupsOf(namespace, "up")).filter((b) => b.spec.reason === "PreUpgrade");
  assert.equal(backups.length, 1);
  const completed = Date.parse(backups[0]?.status?.completionTime ?? "");
  assert.ok(completed <= (order[0]?.at ?? 0), "backed up before the first restart");
  await eventCount(namespace, "UpgradeCompleted");
  assert.deepEqual(
    (await eventsOf(namespace))
      .filter((e) => /^Upgrade(Started|Completed)$/.test(e.reason ?? ""))
      .map((e) => e.reason)
      .sort(),
    ["UpgradeCompleted", "UpgradeStarted"],
  );
});

test("level 2: a pod that does not become ready stops the rollout and rolls it back, with a condition saying why; a fixed spec rolls out", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  // A restarted pod has 8 s to become ready (kwok makes a healthy one ready within a second).
  await client.create(MySQLCluster, smallCluster(namespace, "bad", { upgrade: { podReadyTimeoutSeconds: 8 } }));
  await readyCluster(namespace, "bad");
  const before = Object.fromEntries((await podsOf(namespace, "bad")).map((p) => [p.metadata?.name, p.metadata?.uid]));
  // 8.4 with pods that never become ready.
  await client.patch(MySQLCluster, { namespace, name: "bad" }, "merge", {
    spec: { version: "8.4", podAnnotations: { [holdAnnotation]: "true" } },
  });
  const rolledBack = await clusterWhen(
    namespace,
    "bad",
    (c) =>
      c.status?.failedRevision !== undefined && c.status.rollout === undefined && (c.status.readyReplicas ?? 0) === 3,
    "rolled back, 3 pods ready",
  );
  assert.equal(rolledBack.status?.failedRevision?.version, "8.4");
  assert.equal(rolledBack.status?.failedRevision?.reason, "pod bad-2 of 8.4 not ready after 8s");
  assert.equal(rolledBack.status?.currentVersion, "8.0");
  assert.equal(rolledBack.status?.phase, "Degraded");
  const degraded = rolledBack.status?.conditions?.find((c) => c.type === "Degraded");
  assert.equal(degraded?.status, "True");
  assert.equal(degraded?.reason, "RolloutFailed");
  assert.match(degraded?.message ?? "", /8\.4: pod bad-2 of 8\.4 not ready after 8s; rolled back/);
  const after = await podsOf(namespace, "bad");
  assert.deepEqual(
    after.map((p) => [p.metadata?.name, p.spec?.containers[0]?.image, p.metadata?.annotations?.[holdAnnotation]]),
    [
      ["bad-0", "mysql:8.0", undefined],
      ["bad-1", "mysql:8.0", undefined],
      ["bad-2", "mysql:8.0", undefined],
    ],
  );
  assert.equal(after[0]?.metadata?.uid, before["bad-0"], "the primary was never touched");
  assert.equal(after[1]?.metadata?.uid, before["bad-1"], "the rollout stopped at the first pod");
  assert.equal(await eventCount(namespace, "RolloutFailed"), 1);
  assert.equal(await eventCount(namespace, "RolledBack"), 1);
  // The failed revision is not tried again by itself.
  assert.equal((await client.get(MySQLCluster, { namespace, name: "bad" })).status?.rollout, undefined);

  // Fixed: 8.4 without the marker rolls out.
  await client.patch(MySQLCluster, { namespace, name: "bad" }, "merge", { spec: { podAnnotations: null } });
  const fixed = await clusterWhen(namespace, "bad", (c) => c.status?.currentVersion === "8.4" && isReady(c), "on 8.4");
  assert.equal(fixed.status?.conditions?.find((c) => c.type === "Degraded")?.status, "False");
  // Two version changes from 8.0, two pre-upgrade backups (one per revision).
  const pre = (await backupsOf(namespace, "bad")).filter((b) => b.spec.reason === "PreUpgrade");
  assert.equal(pre.length, 2);
  assert.ok(pre.every((b: MySQLBackup) => b.status?.phase === "Completed"));
});
