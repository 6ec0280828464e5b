/**
 * Level 5, auto pilot: read replicas scaled from their load with hysteresis (a load that flaps around the
 * threshold changes nothing), configuration drift put back, a missing Service or Secret made again, and a stuck
 * backup stopped and retried with backoff. The load is what each server's agent reports in a pod annotation; the
 * tests write it (no database runs on the plane).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appsv1, batchv1, corev1 } from "converge-sdk";
import { eventually } from "converge-sdk/testing";
import { MySQLBackup } from "../src/api/backup.ts";
import { MySQLCluster } from "../src/api/cluster.ts";
import { labels, observed } from "../src/names.ts";
import {
  client,
  clusterWhen,
  eventCount,
  eventsOf,
  isReady,
  plane,
  podsOf,
  readyCluster,
  recordChanges,
  smallCluster,
  startOperator,
} from "./helpers.ts";

/** Every read replica of `cluster` reports `load` queries per second. */
async function reportLoad(namespace: string, cluster: string, load: number) {
  for (const pod of await podsOf(namespace, cluster)) {
    if (pod.metadata?.labels?.[labels.role] !== "replica") continue;
    await client.patch(corev1.Pod, { namespace, name: pod.metadata?.name ?? "" }, "merge", {
      metadata: { annotations: { [observed.load]: String(load) } },
    });
  }
}

const count = async (namespace: string, reason: string) =>
  (await eventsOf(namespace, reason)).reduce((n, e) => n + (e.series?.count ?? 1), 0);

test("level 5: read replicas follow the load between min and max, with hysteresis: no flapping", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(
    MySQLCluster,
    smallCluster(namespace, "auto", {
      readReplicas: { min: 1, max: 3 },
      autoscaling: {
        targetLoadPerReplica: 100,
        tolerancePercent: 20,
        scaleUpAfterSeconds: 2,
        scaleDownAfterSeconds: 5,
      },
    }),
  );
  await readyCluster(namespace, "auto");
  const wanted = await recordChanges(MySQLCluster, namespace, (c) => String(c.status?.readReplicas ?? ""));
  t.after(() => wanted.stop());

  // 250 queries/s on one replica: 3 replicas wanted (ceil(250 / 100)), after the 2 s window.
  await reportLoad(namespace, "auto", 250);
  const up = await clusterWhen(namespace, "auto", (c) => c.status?.readReplicas === 3 && isReady(c), "3 read replicas");
  assert.ok(up.status?.autoscaling?.lastScaleTime);
  assert.equal((await client.get(appsv1.StatefulSet, { namespace, name: "auto" })).spec?.replicas, 4);

  // Flapping: 60/s per replica (asks for 2) and 100/s (in the band) by turns, each shorter than the 5 s window.
  for (let i = 0; i < 6; i++) {
    await reportLoad(namespace, "auto", i % 2 === 0 ? 60 : 100);
    await new Promise((r) => setTimeout(r, 1_500));
  }
  assert.equal((await client.get(MySQLCluster, { namespace, name: "auto" })).status?.readReplicas, 3, "no flapping");
  assert.equal(await count(namespace, "ScaledDown"), 0);

  // A steady 50/s per replica (150 in all): 2 replicas, once the load held for the window.
  await reportLoad(namespace, "auto", 50);
  await clusterWhen(namespace, "auto", (c) => c.status?.readReplicas === 2 && isReady(c), "2 read replicas", 30_000);
  assert.deepEqual(wanted.seen, ["1", "3", "2"]);
  assert.equal(await eventCount(namespace, "ScaledUp"), 1);
  assert.equal(await eventCount(namespace, "ScaledDown"), 1);
  assert.equal((await podsOf(namespace, "auto")).length, 3);
});

test("level 5: drift repaired, and a missing Service or Secret made again", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(
    MySQLCluster,
    smallCluster(namespace, "heal", { readReplicas: { min: 1 }, config: { max_connections: "300" } }),
  );
  await readyCluster(namespace, "heal");
  const key = (name: string) => ({ namespace, name });

  await client.patch(corev1.ConfigMap, key("heal-config"), "merge", {
    data: { "my.cnf": "[mysqld]\nmax_connections = 1\n" },
  });
  await eventually("my.cnf put back", async () =>
    /max_connections = 300/.test((await client.get(corev1.ConfigMap, key("heal-config"))).data?.["my.cnf"] ?? ""),
  );
  await client.patch(appsv1.StatefulSet, key("heal"), "merge", { spec: { replicas: 5 } });
  await eventually(
    "the StatefulSet's replicas put back",
    async () => (await client.get(appsv1.StatefulSet, key("heal"))).spec?.replicas === 2,
  );
  await client.patch(corev1.Service, key("heal"), "merge", { spec: { selector: { [labels.podName]: "heal-1" } } });
  await eventually(
    "the write Service on the primary again",
    async () => (await client.get(corev1.Service, key("heal"))).spec?.selector?.[labels.podName] === "heal-0",
  );

  const service = await client.get(corev1.Service, key("heal"));
  await client.delete(corev1.Service, key("heal"));
  await client.delete(corev1.Service, key("heal-replicas"));
  await eventually("both Services back", async () => {
    const [w, r] = await Promise.all([
      client.get(corev1.Service, key("heal")).catch(() => undefined),
      client.get(corev1.Service, key("heal-replicas")).catch(() => undefined),
    ]);
    return w && r && w.metadata?.uid !== service.metadata?.uid;
  });
  const secret = await client.get(corev1.Secret, key("heal-credentials"));
  await client.delete(corev1.Secret, key("heal-credentials"));
  const again = await eventually("the Secret back", () =>
    client.get(corev1.Secret, key("heal-credentials")).catch(() => undefined),
  );
  assert.notEqual(again.metadata?.uid, secret.metadata?.uid);
  assert.equal(await eventCount(namespace, "CredentialsRecreated"), 1);
  await clusterWhen(namespace, "heal", isReady, "still Ready");
});

test("level 5: a stuck backup is stopped and retried with backoff until it completes", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(
    MySQLCluster,
    smallCluster(namespace, "stuck", {
      readReplicas: { min: 0 },
      backup: { timeoutSeconds: 3, backoffSeconds: 2, maxAttempts: 6 },
    }),
  );
  await readyCluster(namespace, "stuck");
  // No more pods in the namespace: the backup Job is made, its pod is refused, and the attempt never finishes.
  await client.create(corev1.ResourceQuota, {
    metadata: { name: "no-more-pods", namespace },
    spec: { hard: { pods: String((await podsOf(namespace, "stuck")).length) } },
  });
  await client.create(MySQLBackup, {
    metadata: { name: "nightly", namespace, labels: { [labels.cluster]: "stuck" } },
    spec: { cluster: "stuck" },
  });
  const stuck = await eventually("attempts 1 and 2 to be stopped as stuck", async () => {
    const b = await client.get(MySQLBackup, { namespace, name: "nightly" });
    return (b.status?.attempts?.length ?? 0) >= 2 ? b : undefined;
  });
  assert.deepEqual(stuck.status?.attempts?.map((a) => [a.attempt, a.job, a.result]).slice(0, 2), [
    [1, "nightly-1", "Stuck"],
    [2, "nightly-2", "Stuck"],
  ]);
  await client.delete(corev1.ResourceQuota, { namespace, name: "no-more-pods" });
  const done = await eventually(
    "the backup to complete",
    async () => {
      const b = await client.get(MySQLBackup, { namespace, name: "nightly" });
      return b.status?.phase === "Completed" ? b : undefined;
    },
    60_000,
  );
  const attempts = done.status?.attempts ?? [];
  assert.ok(attempts.length >= 2 && attempts.every((a) => a.result === "Stuck"));
  assert.equal(done.status?.attempt, attempts.length + 1);
  // The stuck attempts' Jobs were deleted; the last one completed.
  const jobs = (await client.list(batchv1.Job, { namespace })).items.map((j) => j.metadata?.name);
  assert.deepEqual(jobs, [`nightly-${attempts.length + 1}`]);
  // Backoff: 2 s before attempt 2, doubled before each next one.
  assert.ok((await eventCount(namespace, "BackupStuck")) >= 2);
  for (let i = 1; i < attempts.length; i++) {
    const gap = Date.parse(attempts[i]?.finishedAt ?? "") - Date.parse(attempts[i - 1]?.finishedAt ?? "");
    // Each attempt ran for the 3 s timeout after a backoff of 2 s · 2^(i-1); timestamps are to the second.
    assert.ok(gap >= (3 + 2 * 2 ** (i - 1) - 1) * 1000, `gap ${gap} ms before attempt ${i + 1}`);
  }
});
