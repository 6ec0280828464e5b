/**
 * Level 2, the API itself upgraded: MySQLClusters stored as v1alpha1 by an operator that knew only that version,
 * then the v1beta1 CRD (storage v1beta1) with the operator's conversion webhook, and a storage version migration
 * that rewrites every stored object so that v1alpha1 leaves `status.storedVersions`.
 *
 * The CRD under test is a copy of MySQLCluster in a group of its own, so that the other test files, which use
 * the real one at the same time, are not disturbed while its versions change.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  apiextensionsv1,
  defineConversion,
  defineResource,
  installCrds,
  Manager,
  type OperatorDefinition,
} from "converge-sdk";
import { webhookOptions } from "converge-sdk/runtime";
import { eventually, silentLogger } from "converge-sdk/testing";
import { MySQLCluster } from "../src/api/cluster.ts";
import { toV1alpha1, toV1beta1 } from "../src/conversion.ts";
import { migrateStorage } from "../src/storage-migration.ts";
import { client, plane } from "./helpers.ts";

const group = "upgrade.db.example.com";
const Old = defineResource({
  ...MySQLCluster.init,
  kind: "MySQLCluster",
  group,
  versions: { v1alpha1: { ...MySQLCluster.init.versions.v1alpha1, deprecated: false } },
  storage: "v1alpha1",
});
const New = defineResource({ ...MySQLCluster.init, kind: "MySQLCluster", group });
const conversion = defineConversion(New, {
  hub: "v1beta1",
  spokes: { v1alpha1: { toHub: toV1beta1, fromHub: toV1alpha1 } },
});
const crdName = `mysqlclusters.${group}`;

test("level 2: v1alpha1 → v1beta1 through the conversion webhook, then a storage version migration of the stored objects", async (t) => {
  const namespace = await plane.namespace(t);
  t.after(() => client.delete(apiextensionsv1.CustomResourceDefinition, crdName).catch(() => undefined));
  // The first release: v1alpha1 only.
  await installCrds(client, { name: "old-operator", definitions: [Old], controllers: [] });
  for (const [name, replicas] of [
    ["a", 1],
    ["b", 3],
  ] as const) {
    await client.create(Old, {
      metadata: { name, namespace },
      spec: { version: "8.0", replicas, storageSize: "2Gi", backupSchedule: "@daily" },
    });
  }

  // The upgrade: the new CRD, and the operator serving its conversion.
  const op: OperatorDefinition = {
    name: "mysql-cluster-upgrade-test",
    definitions: [New],
    controllers: [],
    conversions: [conversion],
  };
  await installCrds(client, op);
  const manager = await Manager.create({
    name: op.name,
    client,
    namespace,
    log: silentLogger,
    webhook: webhookOptions(op, { mode: "local", client: () => client }),
  });
  manager.addConversion(conversion);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
  // Until the CRD's conversion stanza points at the webhook, the apiserver only relabels objects' apiVersion.
  const b = await eventually("b read as v1beta1 through the webhook", async () => {
    const crd = await client.get(apiextensionsv1.CustomResourceDefinition, crdName);
    if (crd.spec.conversion?.strategy !== "Webhook") return undefined;
    const obj = await client.get(New.versions.v1beta1, { namespace, name: "b" }).catch(() => undefined);
    return obj?.spec.readReplicas ? obj : undefined;
  });
  assert.deepEqual(b.spec.readReplicas, { min: 2 });
  assert.equal(b.spec.storage?.size, "2Gi");
  assert.deepEqual(b.spec.backup, { schedule: "@daily" });
  // Written in v1beta1 with fields v1alpha1 has no place for, read back in v1alpha1 and written again: nothing lost.
  await client.patch(New.versions.v1beta1, { namespace, name: "b" }, "merge", {
    spec: { readReplicas: { max: 5 }, storage: { whenDeleted: "Delete" } },
  });
  const down = await client.get(New.versions.v1alpha1, { namespace, name: "b" });
  assert.equal(down.spec.replicas, 3);
  await client.update(New.versions.v1alpha1, { ...down, spec: { ...down.spec, version: "8.4" } });
  const up = await client.get(New.versions.v1beta1, { namespace, name: "b" });
  assert.deepEqual(up.spec.readReplicas, { min: 2, max: 5 });
  assert.equal(up.spec.version, "8.4");
  assert.equal(up.spec.storage?.whenDeleted, "Delete");

  // Stored objects: "a" was written in v1alpha1 only. The migration rewrites every object in v1beta1.
  const before = await client.get(apiextensionsv1.CustomResourceDefinition, crdName);
  assert.deepEqual(before.status?.storedVersions, ["v1alpha1", "v1beta1"]);
  // kube-controller-manager's migrator waits for its garbage collector to know the new CRD (up to 30 s).
  assert.equal(await migrateStorage(client, New, { timeoutMs: 100_000 }), "migrated");
  const after = await client.get(apiextensionsv1.CustomResourceDefinition, crdName);
  assert.deepEqual(after.status?.storedVersions, ["v1beta1"]);
  assert.equal(await migrateStorage(client, New), "up to date");
  const a = await client.get(New.versions.v1beta1, { namespace, name: "a" });
  assert.deepEqual(a.spec.readReplicas, { min: 0 });
});
