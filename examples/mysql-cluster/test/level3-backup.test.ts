/**
 * Level 3, lifecycle: backups on demand and on a schedule with retention, a restore into a new cluster from a
 * named backup, and the data volumes kept or deleted with the cluster by policy. kwok completes the Jobs' pods at
 * once: the Jobs, volumes and their order are real; no dump is written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { batchv1, corev1 } from "converge-sdk";
import { eventually } from "converge-sdk/testing";
import { MySQLBackup } from "../src/api/backup.ts";
import { MySQLCluster } from "../src/api/cluster.ts";
import { MySQLRestore } from "../src/api/restore.ts";
import { labels } from "../src/names.ts";
import { restoredFromAnnotation } from "../src/restore/controller.ts";
import {
  backupsOf,
  client,
  clusterWhen,
  eventCount,
  eventsOf,
  gone,
  plane,
  readyCluster,
  smallCluster,
  startOperator,
} from "./helpers.ts";

const backupWhen = (namespace: string, name: string, phase: string) =>
  eventually(`MySQLBackup ${name} ${phase}`, async () => {
    const b = await client.get(MySQLBackup, { namespace, name });
    return b.status?.phase === phase ? b : undefined;
  });

test("level 3: a backup on demand, then a restore of it into a new cluster", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(MySQLCluster, smallCluster(namespace, "src", { version: "8.4", readReplicas: { min: 1 } }));
  await readyCluster(namespace, "src");
  await client.create(MySQLBackup, {
    metadata: { name: "before-migration", namespace, labels: { [labels.cluster]: "src" } },
    spec: { cluster: "src" },
  });
  const backup = await backupWhen(namespace, "before-migration", "Completed");
  assert.equal(backup.status?.attempt, 1);
  assert.deepEqual(backup.status?.source, { version: "8.4", storageSize: "1Gi", readReplicas: 1 });
  assert.equal(backup.status?.location, "src-backups:/backups/before-migration.sql.gz");
  const job = await client.get(batchv1.Job, { namespace, name: "before-migration-1" });
  assert.equal(job.status?.succeeded, 1);
  assert.equal(job.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName, "src-backups");
  assert.equal(
    (await client.get(corev1.PersistentVolumeClaim, { namespace, name: "src-backups" })).status?.phase,
    "Bound",
  );
  await clusterWhen(namespace, "src", (c) => c.status?.lastBackup?.name === "before-migration", "lastBackup");

  await client.create(MySQLRestore, {
    metadata: { name: "copy", namespace },
    spec: { backup: "before-migration", cluster: "restored" },
  });
  const restored = await readyCluster(namespace, "restored");
  assert.equal(restored.spec.version, "8.4", "the backup's version");
  assert.equal(restored.metadata?.annotations?.[restoredFromAnnotation], "before-migration");
  // The dump went into the new primary's volume before the cluster existed; its StatefulSet took that volume.
  const volume = await client.get(corev1.PersistentVolumeClaim, { namespace, name: "data-restored-0" });
  const restoreJob = await client.get(batchv1.Job, { namespace, name: "restore-copy" });
  assert.equal(restoreJob.status?.succeeded, 1);
  assert.ok((volume.metadata?.creationTimestamp ?? "") <= (restored.metadata?.creationTimestamp ?? ""));
  assert.ok((restoreJob.status?.completionTime ?? "") <= (restored.metadata?.creationTimestamp ?? "~"));
  const restore = await eventually("the restore to complete", async () => {
    const r = await client.get(MySQLRestore, { namespace, name: "copy" });
    return r.status?.phase === "Completed" ? r : undefined;
  });
  assert.equal(restore.status?.conditions?.find((c) => c.type === "Completed")?.status, "True");

  // A restore never touches a cluster it did not make.
  await client.create(MySQLRestore, {
    metadata: { name: "clash", namespace },
    spec: { backup: "before-migration", cluster: "src" },
  });
  await eventually("the clash to fail", async () => {
    const r = await client.get(MySQLRestore, { namespace, name: "clash" });
    return r.status?.phase === "Failed" && /exists already/.test(r.status.message ?? "");
  });
});

test("level 3: scheduled backups, one per slot, the newest `keep` kept", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  // Every 3 seconds (six fields, seconds first), keeping 2.
  await client.create(
    MySQLCluster,
    smallCluster(namespace, "sched", { readReplicas: { min: 0 }, backup: { schedule: "*/3 * * * * *", keep: 2 } }),
  );
  await readyCluster(namespace, "sched");
  await eventually(
    "two backups expired by retention",
    async () => (await eventsOf(namespace, "BackupExpired")).reduce((n, e) => n + (e.series?.count ?? 1), 0) >= 2,
    40_000,
  );
  const created = (await eventsOf(namespace, "BackupScheduled")).map((e) => e.note ?? "");
  const names = created.map((n) => /MySQLBackup (\S+)/.exec(n)?.[1]);
  assert.equal(new Set(names).size, names.length, "one backup per slot");
  for (const name of names) assert.match(name ?? "", /^sched-\d{8}t\d{6}$/);
  await eventually("retention to leave the newest 2 (the next slot may be running)", async () => {
    const left = (await backupsOf(namespace, "sched")).filter((b) => b.status?.phase === "Completed");
    return left.length <= 2;
  });
  const cluster = await client.get(MySQLCluster, { namespace, name: "sched" });
  assert.ok(cluster.status?.lastScheduledBackup);
  assert.ok(cluster.status?.lastBackup?.name.startsWith("sched-"));
});

test("level 3: data volumes and credentials kept by policy (Retain), or deleted with the cluster (Delete)", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(MySQLCluster, smallCluster(namespace, "keep", { readReplicas: { min: 1 } }));
  await client.create(
    MySQLCluster,
    smallCluster(namespace, "drop", { readReplicas: { min: 1 }, storage: { whenDeleted: "Delete" } }),
  );
  await readyCluster(namespace, "keep");
  await readyCluster(namespace, "drop");
  await client.delete(MySQLCluster, { namespace, name: "keep" });
  await client.delete(MySQLCluster, { namespace, name: "drop" });
  await gone(MySQLCluster, namespace, "keep");
  await gone(MySQLCluster, namespace, "drop");
  // The garbage collector deletes the StatefulSets (it may take up to 30 s to discover a new CRD), and with
  // `Delete` the StatefulSet's volumes with it.
  await eventually(
    "the volumes of drop to be gone",
    async () =>
      (await client.list(corev1.PersistentVolumeClaim, { namespace })).items.every(
        (p) => !p.metadata?.name?.includes("-drop-"),
      ),
    90_000,
  );
  const left = (await client.list(corev1.PersistentVolumeClaim, { namespace })).items
    .map((p) => p.metadata?.name)
    .sort();
  assert.deepEqual(left, ["data-keep-0", "data-keep-1"]);
  const secret = await client.get(corev1.Secret, { namespace, name: "keep-credentials" });
  assert.equal(secret.metadata?.ownerReferences?.length ?? 0, 0, "released, so the garbage collector leaves it");
  assert.ok((await eventCount(namespace, "CredentialsRetained")) >= 1);
});
