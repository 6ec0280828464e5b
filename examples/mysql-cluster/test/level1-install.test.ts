/**
 * Level 1, basic install: the CRDs (CEL validation and defaults), the sample converging on the real plane, and the
 * artifacts `converge generate` makes (chart, OLM bundle with the capability level `Auto Pilot`).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { appsv1, corev1 } from "converge-sdk";
import { ensureBinaries } from "converge-sdk/cluster";
import { generators, runGenerate, validateBundle } from "converge-sdk/generate";
import { InvalidError } from "converge-sdk/runtime";
import { parse } from "yaml";
import { MySQLCluster } from "../src/api/cluster.ts";
import { labels } from "../src/names.ts";
import operator from "../src/operator.ts";
import { client, plane, podsOf, readyCluster, sample, smallCluster, startOperator } from "./helpers.ts";

const project = fileURLToPath(new URL("..", import.meta.url));

test("level 1: the sample converges — a primary, read replicas, Services, credentials; kubectl wait --for=condition=Ready", async (t) => {
  const namespace = await plane.namespace(t);
  await startOperator(t, namespace);
  await client.create(MySQLCluster, { ...sample, metadata: { ...sample.metadata, namespace } });
  const waited = await plane.kubectl([
    "wait",
    "-n",
    namespace,
    "--for=condition=Ready",
    "mysqlcluster/mysql-cluster-sample",
    "--timeout=60s",
  ]);
  assert.equal(waited.code, 0, waited.stderr);
  const ready = await readyCluster(namespace, "mysql-cluster-sample");
  assert.equal(ready.status?.primary, "mysql-cluster-sample-0");
  assert.equal(ready.status?.readyReplicas, 3);
  assert.equal(ready.status?.currentVersion, "8.0");
  const sts = await client.get(appsv1.StatefulSet, { namespace, name: "mysql-cluster-sample" });
  assert.equal(sts.spec?.replicas, 3);
  assert.equal(sts.spec?.updateStrategy?.type, "OnDelete");
  assert.equal(sts.status?.readyReplicas, 3, "Ready because the pods are");
  const pods = await podsOf(namespace, "mysql-cluster-sample");
  assert.deepEqual(
    pods.map((p) => [p.metadata?.name, p.metadata?.labels?.[labels.role]]),
    [
      ["mysql-cluster-sample-0", "primary"],
      ["mysql-cluster-sample-1", "replica"],
      ["mysql-cluster-sample-2", "replica"],
    ],
  );
  const primary = await client.get(corev1.Service, { namespace, name: "mysql-cluster-sample" });
  assert.equal(primary.spec?.selector?.[labels.podName], "mysql-cluster-sample-0");
  const replicas = await client.get(corev1.Service, { namespace, name: "mysql-cluster-sample-replicas" });
  assert.equal(replicas.spec?.selector?.[labels.role], "replica");
  const secret = await client.get(corev1.Secret, { namespace, name: "mysql-cluster-sample-credentials" });
  assert.equal(Buffer.from(secret.data?.["root-password"] ?? "", "base64").length, 32);
  const config = await client.get(corev1.ConfigMap, { namespace, name: "mysql-cluster-sample-config" });
  assert.match(config.data?.["my.cnf"] ?? "", /^max_connections = 500$/m);
  const table = await plane.kubectl(["get", "myc", "-n", namespace]);
  assert.match(table.stdout, /^NAME\s+PHASE\s+PRIMARY\s+READY\s+VERSION\s+AGE\n/);
  assert.match(table.stdout, /mysql-cluster-sample\s+Ready\s+mysql-cluster-sample-0\s+3\s+8\.0\s+/);
});

test("level 1: CEL validation refuses bad specs with field paths; defaults are filled in by the apiserver", async (t) => {
  const namespace = await plane.namespace(t);
  const refused = async (spec: Partial<MySQLCluster["spec"]>, pattern: RegExp) =>
    assert.rejects(client.create(MySQLCluster, smallCluster(namespace, "bad", spec)), (err: unknown) => {
      assert.ok(err instanceof InvalidError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  await refused(
    { readReplicas: { min: 3, max: 2 } },
    /spec\.readReplicas: Invalid value: .*readReplicas\.max must be at least readReplicas\.min/,
  );
  await refused({ version: "latest" }, /spec\.version: Invalid value: "latest"/);
  await refused({ readReplicas: { min: 9 } }, /spec\.readReplicas\.min: Invalid value: 9/);
  await refused({ backup: { schedule: "every night" } }, /spec\.backup\.schedule: Invalid value: "every night"/);
  const made = await client.create(MySQLCluster, {
    metadata: { name: "defaults", namespace },
    spec: { version: "8.0" },
  });
  assert.deepEqual(made.spec.readReplicas, { min: 1 });
  assert.deepEqual(made.spec.storage, { size: "1Gi", whenDeleted: "Retain", whenScaled: "Retain" });
  assert.deepEqual(made.spec.backup, { keep: 7, timeoutSeconds: 600, maxAttempts: 4, backoffSeconds: 30 });
  assert.deepEqual(made.spec.upgrade, { podReadyTimeoutSeconds: 300, backupFirst: true });
  assert.deepEqual(made.spec.failover, { primaryUnreadySeconds: 10 });
  await assert.rejects(
    client.patch(MySQLCluster, { namespace, name: "defaults" }, "merge", { spec: { storage: { size: "2Gi" } } }),
    /spec\.storage\.size: Invalid value: .*storage\.size cannot be changed/,
  );
  await client.delete(MySQLCluster, { namespace, name: "defaults" });
});

test("level 1: the generated CRDs, RBAC, chart and OLM bundle are up to date; the CSV says Auto Pilot; helm lint passes", async () => {
  const { outOfDate } = await runGenerate(project, operator, generators, { check: true });
  assert.deepEqual(
    outOfDate.map((c) => `${c.state} ${c.path}`),
    [],
    "generated files are stale: run npm run generate",
  );
  const csvPath = "bundle/manifests/mysql-cluster-operator.clusterserviceversion.yaml";
  const csv = parse(await readFile(join(project, csvPath), "utf8")) as {
    metadata: { annotations: Record<string, string> };
    spec: { customresourcedefinitions: { owned: Array<{ kind: string; version: string }> } };
  };
  assert.equal(csv.metadata.annotations.capabilities, "Auto Pilot");
  assert.deepEqual(csv.spec.customresourcedefinitions.owned.map((o) => `${o.kind} ${o.version}`).sort(), [
    "MySQLBackup v1beta1",
    "MySQLCluster v1alpha1",
    "MySQLCluster v1beta1",
    "MySQLRestore v1beta1",
  ]);
  const bundleFiles = await Promise.all(
    [
      csvPath,
      "bundle/manifests/db.example.com_mysqlclusters.yaml",
      "bundle/manifests/db.example.com_mysqlbackups.yaml",
      "bundle/manifests/db.example.com_mysqlrestores.yaml",
      "bundle/metadata/annotations.yaml",
    ].map(async (path) => ({ path, content: await readFile(join(project, path), "utf8") })),
  );
  assert.deepEqual(validateBundle(bundleFiles), []);
  const { helm } = await ensureBinaries(["helm"]);
  const { execFile } = await import("node:child_process");
  const lint = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(
      helm?.path ?? "helm",
      ["lint", "--strict", join(project, "charts", "mysql-cluster-operator")],
      (err, out, errOut) => resolve({ code: err ? 1 : 0, out: out + errOut }),
    ),
  );
  assert.equal(lint.code, 0, lint.out);
});
