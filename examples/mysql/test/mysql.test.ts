/**
 * The MySQL operator end to end on a real control plane (etcd, kube-apiserver, kube-controller-manager, scheduler
 * and kwok): kwok makes the StatefulSet's pod Ready, binds the volume claims (StorageClass kwok-volume) and
 * completes Jobs' pods, so the status here follows real readiness and real Job completion.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  appsv1,
  batchv1,
  Client,
  corev1,
  installCrds,
  isNotFound,
  type KubeObject,
  Manager,
  type ResourceType,
} from "converge-sdk";
import { ensureBinaries } from "converge-sdk/cluster";
import { generators, runGenerate } from "converge-sdk/generate";
import { InvalidError } from "converge-sdk/runtime";
import { eventually, silentLogger, spawnOperator, testPlane } from "converge-sdk/testing";
import { parse } from "yaml";
import { MySQL } from "../src/api.ts";
import { mysqlController } from "../src/controller.ts";
import { dataController } from "../src/data.ts";
import operator from "../src/operator.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "mysql-test" });
test.after(() => client.close());
await installCrds(client, operator);

const sample = parse(await readFile(new URL("../config/samples/mysql.yaml", import.meta.url), "utf8")) as MySQL;

/** Runs both controllers in a manager scoped to the test's namespace; returns a function that stops it. */
async function startOperator(t: { after: (fn: () => Promise<void>) => void }, namespace: string) {
  const manager = await Manager.create({ name: "mysql-operator", client, namespace, log: silentLogger });
  manager.add(mysqlController);
  manager.add(dataController);
  const running = manager.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await manager.stop();
    await running;
  };
  t.after(stop);
  return stop;
}

const gone = <T extends KubeObject>(type: ResourceType<T>, namespace: string, name: string) =>
  eventually(`${type.kind} ${name} to be gone`, () =>
    client.get(type, { namespace, name }).then(
      () => undefined,
      (err: unknown) => isNotFound(err) || undefined,
    ),
  );

const phase = (namespace: string, name: string, wanted: string, check: (m: MySQL) => boolean = () => true) =>
  eventually(`MySQL ${name} to be ${wanted}`, async () => {
    const m = await client.get(MySQL, { namespace, name });
    return m.status?.phase === wanted && check(m) ? m : undefined;
  });

/** Records the phases a MySQL's status goes through (each change once), from a watch. */
function recordPhases(namespace: string, name: string, resourceVersion: string | undefined) {
  const seen: Array<{ phase?: string; message?: string; generation?: number }> = [];
  const abort = new AbortController();
  (async () => {
    const events = client.watch(MySQL, {
      namespace,
      fieldSelector: `metadata.name=${name}`,
      ...(resourceVersion ? { resourceVersion } : {}),
      signal: abort.signal,
    });
    for await (const event of events) {
      const status = event.object.status;
      const generation = status?.conditions?.find((c) => c.type === "Ready")?.observedGeneration;
      const last = seen.at(-1);
      if (last?.phase === status?.phase && last?.generation === generation) continue;
      seen.push({ phase: status?.phase, message: status?.message, generation });
    }
  })().catch(() => {}); // ends with the abort
  return { seen, stop: () => abort.abort() };
}

test("the sample MySQL: create, restart, roll, repair, back up, and delete keeping (Retain) or removing (Delete) its data", async (t) => {
  const namespace = await plane.namespace(t);
  const stopFirst = await startOperator(t, namespace);
  const key = { namespace, name: "mysql-sample" };
  const created = await client.create(MySQL, { ...sample, metadata: { ...sample.metadata, namespace } });

  // Create: everything the sample describes, and a status that follows the server's readiness.
  const ready = await phase(namespace, "mysql-sample", "Ready");
  assert.equal(ready.status?.message, `MySQL 8.0 is ready at mysql-sample.${namespace}.svc:3306`);
  assert.equal(ready.status?.conditions?.find((c) => c.type === "Ready")?.observedGeneration, 1);
  assert.equal(ready.status?.lastBackup, undefined, "no backup has run yet");
  const sts = await client.get(appsv1.StatefulSet, key);
  assert.equal(sts.spec?.replicas, 1);
  assert.equal(sts.status?.readyReplicas, 1, "the phase is Ready because the pod is");
  assert.equal(sts.metadata?.ownerReferences?.[0]?.uid, created.metadata?.uid);
  const svc = await client.get(corev1.Service, key);
  assert.deepEqual(
    svc.spec?.ports?.map((p) => p.port),
    [3306],
  );
  const data = await client.get(corev1.PersistentVolumeClaim, { namespace, name: "mysql-sample-data" });
  assert.equal(data.spec?.resources?.requests?.storage, "1Gi");
  assert.equal(data.status?.phase, "Bound");
  const cron = await client.get(batchv1.CronJob, { namespace, name: "mysql-sample-backup" });
  assert.equal(cron.spec?.schedule, "0 2 * * *");
  const backupVolume = cron.spec?.jobTemplate.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName;
  // Ready waits for the data claim only; the backup claim is bound by the provisioner on its own time.
  await eventually(
    "the backup claim to be Bound",
    async () =>
      (await client.get(corev1.PersistentVolumeClaim, { namespace, name: backupVolume ?? "" })).status?.phase ===
      "Bound",
  );
  const secret = await client.get(corev1.Secret, { namespace, name: "mysql-sample-credentials" });
  const passwords = JSON.stringify(secret.data);
  for (const value of Object.values(secret.data ?? {})) {
    assert.ok(!JSON.stringify(ready.status).includes(Buffer.from(value, "base64").toString()), "no password in status");
  }

  // Restart: a new operator process keeps the passwords, and rolls the server to a new version.
  await stopFirst();
  await startOperator(t, namespace);
  const phases = recordPhases(namespace, "mysql-sample", ready.metadata?.resourceVersion);
  await client.patch(MySQL, key, "merge", { spec: { mysqlVersion: "8.4" } });
  await eventually("the pod to run mysql:8.4", async () => {
    const pod = await client.get(corev1.Pod, { namespace, name: "mysql-sample-0" });
    return (
      pod.spec?.containers[0]?.image === "mysql:8.4" &&
      pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
    );
  });
  const rolled = await phase(
    namespace,
    "mysql-sample",
    "Ready",
    (m) => m.status?.conditions?.find((c) => c.type === "Ready")?.observedGeneration === 2,
  );
  assert.equal(rolled.status?.message, `MySQL 8.4 is ready at mysql-sample.${namespace}.svc:3306`);
  const seen = await eventually("the watch to see the roll end", () => {
    const rolling = phases.seen.filter((p) => p.generation === 2).map((p) => p.phase);
    return rolling.at(-1) === "Ready" ? rolling : undefined;
  });
  assert.deepEqual(seen, ["Progressing", "Ready"], "while the StatefulSet rolls the MySQL is Progressing, then Ready");
  assert.match(phases.seen.find((p) => p.phase === "Progressing")?.message ?? "", /^StatefulSet mysql-sample: /);
  phases.stop();
  const kept = await client.get(corev1.Secret, { namespace, name: "mysql-sample-credentials" });
  assert.equal(JSON.stringify(kept.data), passwords, "the passwords survive an operator restart and a version change");
  assert.equal(kept.metadata?.uid, secret.metadata?.uid);

  // Drift: an edited StatefulSet is put back; a deleted Service comes back.
  await client.patch(appsv1.StatefulSet, key, "json", [
    { op: "replace", path: "/spec/template/spec/containers/0/image", value: "mysql:5.7" },
  ]);
  await eventually("the StatefulSet's image to be put back", async () => {
    const s = await client.get(appsv1.StatefulSet, key);
    return (
      s.metadata?.generation !== sts.metadata?.generation && s.spec?.template.spec?.containers[0]?.image === "mysql:8.4"
    );
  });
  await client.delete(corev1.Service, key);
  await eventually("the Service to come back", async () => {
    const s = await client.get(corev1.Service, key);
    return s.metadata?.uid !== svc.metadata?.uid ? s : undefined;
  });

  // A backup Job, made from the CronJob's template as the CronJob controller makes it; kwok completes its pod.
  const template = (await client.get(batchv1.CronJob, { namespace, name: "mysql-sample-backup" })).spec?.jobTemplate;
  await client.create(batchv1.Job, {
    metadata: {
      name: "mysql-sample-backup-manual",
      namespace,
      labels: template?.metadata?.labels,
      annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
      ownerReferences: [
        {
          apiVersion: "batch/v1",
          kind: "CronJob",
          name: cron.metadata?.name ?? "",
          uid: cron.metadata?.uid ?? "",
          controller: true,
        },
      ],
    },
    spec: template?.spec ?? { template: {} },
  });
  const job = await eventually("the backup Job to complete", async () => {
    const j = await client.get(batchv1.Job, { namespace, name: "mysql-sample-backup-manual" });
    return j.status?.completionTime ? j : undefined;
  });
  await phase(namespace, "mysql-sample", "Ready", (m) => m.status?.lastBackup === job.status?.completionTime);

  // Delete with the default policy (Retain): the server goes, the data and credentials stay, released.
  await client.delete(MySQL, key);
  await gone(MySQL, namespace, "mysql-sample");
  await gone(appsv1.StatefulSet, namespace, "mysql-sample");
  await gone(corev1.Service, namespace, "mysql-sample");
  await gone(batchv1.CronJob, namespace, "mysql-sample-backup");
  for (const [type, name] of [
    [corev1.PersistentVolumeClaim, "mysql-sample-data"],
    [corev1.PersistentVolumeClaim, "mysql-sample-backup"],
    [corev1.Secret, "mysql-sample-credentials"],
  ] as const) {
    const left = await client.get(type as ResourceType<KubeObject>, { namespace, name });
    assert.equal(left.metadata?.deletionTimestamp, undefined, `${name} is kept`);
    assert.deepEqual(left.metadata?.ownerReferences ?? [], [], `${name} is released from the deleted MySQL`);
  }

  // Created again, it takes its data and credentials back; deleted with deletionPolicy Delete, it removes them.
  const again = await client.create(MySQL, {
    ...sample,
    metadata: { ...sample.metadata, namespace },
    spec: { ...sample.spec, deletionPolicy: "Delete" },
  });
  await phase(namespace, "mysql-sample", "Ready");
  const adopted = await client.get(corev1.Secret, { namespace, name: "mysql-sample-credentials" });
  assert.equal(JSON.stringify(adopted.data), passwords, "the kept credentials match the kept data");
  assert.equal(adopted.metadata?.ownerReferences?.[0]?.uid, again.metadata?.uid);
  const readopted = await client.get(corev1.PersistentVolumeClaim, { namespace, name: "mysql-sample-data" });
  assert.equal(readopted.metadata?.uid, data.metadata?.uid, "the same data volume");
  assert.ok(readopted.metadata?.ownerReferences?.some((r) => r.uid === again.metadata?.uid));
  await client.delete(MySQL, key);
  await gone(MySQL, namespace, "mysql-sample");
  await gone(corev1.Secret, namespace, "mysql-sample-credentials");
  await gone(corev1.PersistentVolumeClaim, namespace, "mysql-sample-data");
  await gone(corev1.PersistentVolumeClaim, namespace, "mysql-sample-backup");
});

test("bad sizes, schedules and users are refused with their field paths, by the apiserver and by validate()", async (t) => {
  const namespace = await plane.namespace(t);
  const spec = { databaseName: "appdb", databaseUser: "appuser", storageSize: "1Gi" };
  const refused = async (name: string, over: Partial<MySQL["spec"]>, message: RegExp) => {
    await assert.rejects(client.create(MySQL, { metadata: { name, namespace }, spec: { ...spec, ...over } }), (err) => {
      assert.ok(err instanceof InvalidError, String(err));
      assert.match(err.message, message);
      return true;
    });
  };
  await refused(
    "size",
    { storageSize: "ten" },
    /spec\.storageSize: Invalid value: "ten": storageSize must be a positive quantity such as 10Gi/,
  );
  await refused(
    "zero",
    { storageSize: "0" },
    /spec\.storageSize: Invalid value: "0": storageSize must be a positive quantity/,
  );
  await refused(
    "schedule",
    { backupSchedule: "61 * * * *" },
    /spec\.backupSchedule: Invalid value: "61 \* \* \* \*": backupSchedule must be a cron schedule/,
  );
  await refused(
    "words",
    { backupSchedule: "every night" },
    /spec\.backupSchedule: Invalid value: "every night": backupSchedule must be a cron schedule/,
  );
  await refused(
    "root",
    { databaseUser: "root" },
    /spec\.databaseUser: Invalid value: "root": databaseUser must not be root/,
  );
  for (const over of [{ storageSize: "ten" }, { storageSize: "0" }, { backupSchedule: "61 * * * *" }]) {
    const field = `spec.${Object.keys(over)[0]}`;
    assert.deepEqual(
      MySQL.validate({ spec: { ...spec, ...over } }).map((e) => e.field),
      [field],
      "validate() refuses what the apiserver refuses",
    );
  }

  // Defaults come from the CRD; the database and user are fixed once created.
  const made = await client.create(MySQL, { metadata: { name: "defaults", namespace }, spec });
  assert.equal(made.spec.mysqlVersion, "8.0");
  assert.equal(made.spec.deletionPolicy, "Retain");
  await assert.rejects(
    client.patch(MySQL, { namespace, name: "defaults" }, "merge", { spec: { databaseName: "other" } }),
    /spec\.databaseName: Invalid value: "other": databaseName cannot be changed once the database exists/,
  );
  const table = await client.transport.json<{ columnDefinitions: Array<{ name: string }> }>({
    method: "GET",
    path: `/apis/operators.example.com/v1alpha1/namespaces/${namespace}/mysqls`,
    accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
  });
  assert.deepEqual(
    table.columnDefinitions.map((c) => c.name),
    ["Name", "Phase", "Version", "Storage", "Last Backup", "Age"],
  );
  const { kubectl } = await ensureBinaries(["kubectl"]);
  const { stdout } = await promisify(execFile)(kubectl?.path ?? "kubectl", [
    "--kubeconfig",
    plane.kubeconfig,
    "get",
    "mysql",
    "-n",
    namespace,
    "-o",
    "name",
  ]);
  assert.equal(stdout.trim(), "mysql.operators.example.com/defaults", "the short name `mysql` works");
  await client.delete(MySQL, { namespace, name: "defaults" }); // no operator runs here: nothing holds it
  await gone(MySQL, namespace, "defaults");
});

test("the generated CRD, RBAC, chart and bundle are up to date", async () => {
  const project = fileURLToPath(new URL("..", import.meta.url));
  const { outOfDate } = await runGenerate(project, operator, generators, { check: true });
  assert.deepEqual(
    outOfDate.map((c) => `${c.state} ${c.path}`),
    [],
    "generated files are stale: run npm run generate",
  );
});

test("npm start installs the CRD and runs the operator against KUBECONFIG until SIGTERM", async (t) => {
  const namespace = await plane.namespace(t);
  const main = new URL("../src/main.ts", import.meta.url);
  await using running = await spawnOperator(main, { kubeconfig: plane.kubeconfig });
  await running.ready();
  await client.create(MySQL, {
    ...sample,
    metadata: { ...sample.metadata, namespace },
    spec: { ...sample.spec, deletionPolicy: "Delete" },
  });
  await phase(namespace, "mysql-sample", "Ready");
  // Delete it while the operator runs: its finalizers need the operator.
  await client.delete(MySQL, { namespace, name: "mysql-sample" });
  await gone(MySQL, namespace, "mysql-sample");
  assert.equal((await running.stop()).code, 0, running.stderr);
});
