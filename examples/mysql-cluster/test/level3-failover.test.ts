/**
 * Level 3, failure recovery: the primary pod deleted, or marked failed (its Ready condition False, as a kubelet
 * writes it when the readiness probe fails), is replaced by the replica with the least replication lag — role
 * labels and the write Service's selector switched — and the old primary rejoins as a replica on its own volume.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { corev1 } from "converge-sdk";
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

const annotate = (namespace: string, pod: string, annotations: Record<string, string>) =>
  client.patch(corev1.Pod, { namespace, name: pod }, "merge", { metadata: { annotations } });

const rolesOf = async (namespace: string, cluster: string) =>
  Object.fromEntries(
    (await podsOf(namespace, cluster)).map((p) => [p.metadata?.name, p.metadata?.labels?.[labels.role]]),
  );

test("level 3: the primary deleted → the least-lagging replica promoted, Service switched, old primary rejoins as a replica; then marked failed → promoted again", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(MySQLCluster, smallCluster(namespace, "db"));
  await readyCluster(namespace, "db");
  const selectors = await recordChanges(corev1.Service, namespace, (s) =>
    s.metadata?.name === "db" ? s.spec?.selector?.[labels.podName] : undefined,
  );
  t.after(() => selectors.stop());
  const volumeBefore = await client.get(corev1.PersistentVolumeClaim, { namespace, name: "data-db-0" });
  const oldPrimary = await client.get(corev1.Pod, { namespace, name: "db-0" });
  // The agents report lag: db-2 is closer to the primary than db-1.
  await annotate(namespace, "db-1", { [observed.lag]: "5" });
  await annotate(namespace, "db-2", { [observed.lag]: "1" });

  await client.delete(corev1.Pod, { namespace, name: "db-0" });
  const failedOver = await clusterWhen(
    namespace,
    "db",
    (c) => c.status?.primary === "db-2" && isReady(c),
    "db-2 primary and Ready again",
  );
  assert.deepEqual(
    failedOver.status?.failovers?.map((f) => [f.from, f.to, f.reason]),
    [["db-0", "db-2", "PrimaryFailed"]],
  );
  const primaryService = await client.get(corev1.Service, { namespace, name: "db" });
  assert.equal(primaryService.spec?.selector?.[labels.podName], "db-2");
  assert.deepEqual(await rolesOf(namespace, "db"), { "db-0": "replica", "db-1": "replica", "db-2": "primary" });
  const rejoined = await client.get(corev1.Pod, { namespace, name: "db-0" });
  assert.notEqual(rejoined.metadata?.uid, oldPrimary.metadata?.uid, "a new pod for the old primary");
  const volumeAfter = await client.get(corev1.PersistentVolumeClaim, { namespace, name: "data-db-0" });
  assert.equal(volumeAfter.metadata?.uid, volumeBefore.metadata?.uid, "the old primary keeps its data volume");
  const replicas = await client.get(corev1.Service, { namespace, name: "db-replicas" });
  assert.equal(replicas.spec?.selector?.[labels.role], "replica");
  assert.equal(await eventCount(namespace, "Promoted"), 1);
  const promoted = await eventsOf(namespace, "Promoted");
  assert.match(promoted[0]?.note ?? "", /db-2 promoted to primary \(PrimaryFailed\); db-0 rejoins as a replica/);

  // Marked failed: the readiness probe of db-2 fails. db-1 (lag 5) is preferred to db-0 (no lag reported yet).
  await client.patch(
    corev1.Pod,
    { namespace, name: "db-2" },
    "merge",
    {
      status: {
        conditions: [
          { type: "Ready", status: "False", lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") },
        ],
      },
    },
    { subresource: "status" },
  );
  const again = await clusterWhen(namespace, "db", (c) => c.status?.primary === "db-1", "db-1 primary");
  assert.deepEqual(
    again.status?.failovers?.map((f) => [f.from, f.to]),
    [
      ["db-0", "db-2"],
      ["db-2", "db-1"],
    ],
  );
  await eventCount(namespace, "FailoverStarted", 2);
  assert.match(
    (await eventsOf(namespace, "FailoverStarted")).map((e) => e.note).join("\n"),
    /primary pod db-2 not ready for 2s: promoting db-1/,
  );
  await clusterWhen(
    namespace,
    "db",
    (c) => (c.status?.conditions ?? []).some((x) => x.type === "PrimaryAvailable" && x.status === "True"),
    "primary available",
  );
  assert.equal((await client.get(corev1.Service, { namespace, name: "db" })).spec?.selector?.[labels.podName], "db-1");
  assert.deepEqual(selectors.seen, ["db-0", "db-2", "db-1"], "the write Service switched once per failure");
});
