/**
 * The MySQL operator without an apiserver: its definition's validation, the objects it declares, its status, and
 * both controllers in a Manager on the in-memory FakeClient (credentials created once and kept, retention on
 * deletion). What needs a real control plane (schemas, CEL, server-side apply, kube-controller-manager) is in
 * mysql.test.ts.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { appsv1, type batchv1, type ChildReport, corev1, type Live, Manager } from "converge-sdk";
import { Conditions, createLogger } from "converge-sdk/runtime";
import { eventually, FakeClient } from "converge-sdk/testing";
import { MySQL } from "../src/api.ts";
import { mysqlController } from "../src/controller.ts";
import { dataController, dataFinalizer, generatePassword, secretKeys } from "../src/data.ts";
import { lastBackupOf, type Observed, phaseOf, setStatus } from "../src/status.ts";
import { backupCronJob, desiredChildren, service, statefulSet } from "../src/workload.ts";

const namespace = "default";
const spec = { databaseName: "appdb", databaseUser: "appuser", storageSize: "1Gi" };
const sample = (over: Partial<MySQL["spec"]> = {}, name = "db"): Live<MySQL, true> => ({
  apiVersion: "operators.example.com/v1alpha1",
  kind: "MySQL",
  metadata: { name, namespace, uid: "uid-1", resourceVersion: "1", generation: 1 },
  spec: { ...spec, ...over },
});

/** A MySQL to create: what a user writes. */
const fresh = (over: Partial<MySQL["spec"]> = {}, name = "db"): MySQL => ({
  apiVersion: "operators.example.com/v1alpha1",
  kind: "MySQL",
  metadata: { name, namespace },
  spec: { ...spec, ...over },
});

/** The status `setStatus` writes over `current`, as Converge would (a copy, changed in place). */
function statusOf(mysql: Live<MySQL>, observed: Observed, current: MySQL["status"] = {}) {
  const status = structuredClone(current);
  setStatus(status, new Conditions(status, mysql.metadata.generation), mysql, observed);
  return status;
}

test("validate(): storageSize must be a positive quantity, backupSchedule a cron schedule, with field paths", () => {
  for (const size of ["1Gi", "10Gi", "500M", "1.5Ti", "0.5Gi", "100"]) {
    assert.deepEqual(MySQL.validate({ spec: { ...spec, storageSize: size } }), [], size);
  }
  for (const size of ["", "0", "0Gi", "ten", "10 Gi", "10GB", "-1Gi", "1e3", "100m"]) {
    const fields = MySQL.validate({ spec: { ...spec, storageSize: size } }).map((e) => e.field);
    assert.ok(fields.includes("spec.storageSize"), `${size}: ${fields}`);
  }
  const good = ["0 2 * * *", "*/15 * * * *", "0 0 1,15 * *", "30 3 * * MON-FRI", "0 4 ? JAN,jul sun", "@daily"];
  for (const schedule of good) {
    assert.deepEqual(MySQL.validate({ spec: { ...spec, backupSchedule: schedule } }), [], schedule);
  }
  for (const schedule of [
    "",
    "daily",
    "* * * *",
    "60 * * * *",
    "0 24 * * *",
    "0 0 32 * *",
    "0 0 * 13 *",
    "0 0 * * 7",
  ]) {
    assert.deepEqual(
      MySQL.validate({ spec: { ...spec, backupSchedule: schedule } }).map((e) => e.field),
      ["spec.backupSchedule"],
      schedule,
    );
  }
  assert.deepEqual(
    new Set(MySQL.validate({ spec: { ...spec, deletionPolicy: "Forget" } }).map((e) => e.field)),
    new Set(["spec.deletionPolicy"]),
  );
  const missing = MySQL.validate({ spec: { databaseName: "appdb" } });
  assert.deepEqual(
    missing.map((e) => e.field),
    ["spec"],
  );
  assert.match(missing[0]?.message ?? "", /databaseUser, storageSize/, "databaseUser and storageSize are required");
});

test("the server is a one-replica StatefulSet of mysql:<version>, its password from the Secret, with a readiness probe", () => {
  const sts = statefulSet(sample());
  assert.equal(sts.spec?.replicas, 1);
  const container = sts.spec?.template.spec?.containers[0];
  assert.equal(container?.image, "mysql:8.0", "mysqlVersion defaults to 8.0");
  assert.equal(statefulSet(sample({ mysqlVersion: "8.4" })).spec?.template.spec?.containers[0]?.image, "mysql:8.4");
  const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e]));
  assert.deepEqual(env.MYSQL_ROOT_PASSWORD?.valueFrom?.secretKeyRef, { name: "db-credentials", key: "root-password" });
  assert.deepEqual(env.MYSQL_PASSWORD?.valueFrom?.secretKeyRef, { name: "db-credentials", key: "password" });
  assert.equal(env.MYSQL_DATABASE?.value, "appdb");
  assert.equal(env.MYSQL_USER?.value, "appuser");
  assert.ok(container?.readinessProbe?.exec?.command?.join(" ").includes("SELECT 1"));
  assert.equal(sts.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName, "db-data");
  assert.deepEqual(sts.spec?.selector.matchLabels, service(sample()).spec?.selector);
  assert.equal(service(sample()).spec?.ports?.[0]?.port, 3306);
});

test("the backup CronJob exists only with a schedule and writes to its own volume", () => {
  const ids = (m: Live<MySQL>) =>
    desiredChildren(m)
      .filter((c) => c.options.when !== false)
      .map((c) => `${c.type.kind}/${c.object.metadata?.name}`);
  assert.deepEqual(ids(sample()), ["StatefulSet/db", "Service/db"]);
  assert.deepEqual(ids(sample({ backupSchedule: "@daily" })), ["StatefulSet/db", "Service/db", "CronJob/db-backup"]);
  const cron = backupCronJob(sample({ backupSchedule: "0 2 * * *" }));
  assert.equal(cron.spec?.schedule, "0 2 * * *");
  const pod = cron.spec?.jobTemplate.spec?.template.spec;
  assert.equal(pod?.volumes?.[0]?.persistentVolumeClaim?.claimName, "db-backup");
  assert.equal(cron.spec?.jobTemplate.metadata?.labels?.["operators.example.com/mysql-uid"], "uid-1");
});

test("lastBackup is the newest completion time of a successful Job, and never goes back", () => {
  const job = (completionTime: string, type: "Complete" | "Failed"): batchv1.Job => ({
    metadata: { name: completionTime },
    status: { completionTime, conditions: [{ type, status: "True" }] },
  });
  const running: batchv1.Job = { metadata: { name: "running" }, status: { active: 1 } };
  assert.equal(lastBackupOf(undefined, []), undefined);
  assert.equal(lastBackupOf(undefined, [running]), undefined);
  assert.equal(
    lastBackupOf(undefined, [job("2026-01-01T02:00:05Z", "Complete"), job("2026-01-02T02:00:05Z", "Failed")]),
    "2026-01-01T02:00:05Z",
    "a failed Job is no backup",
  );
  assert.equal(
    lastBackupOf("2026-01-03T02:00:00Z", [job("2026-01-01T02:00:05Z", "Complete")]),
    "2026-01-03T02:00:00Z",
    "a Job deleted by the history limit does not take lastBackup back",
  );
});

test("status: phase and message follow the data and the server, and conditions follow the phase", () => {
  const labels = { "operators.example.com/mysql": "db" };
  const secret: corev1.Secret = { metadata: { name: "db-credentials", labels } };
  const bound: corev1.PersistentVolumeClaim = { metadata: { name: "db-data", labels }, status: { phase: "Bound" } };
  const report = (state: ChildReport["state"], message?: string): ChildReport[] => [
    { id: "server", kind: "StatefulSet", name: "db", state, ...(message ? { message } : {}) },
    { id: "service", kind: "Service", name: "db", state: "ready" },
  ];
  const m = sample();
  const observed = { report: report("ready"), credentials: secret, data: bound, backupJobs: [] };
  assert.deepEqual(phaseOf(m, { ...observed, credentials: undefined }), {
    phase: "Pending",
    message: "waiting for the Secret db-credentials",
  });
  assert.deepEqual(phaseOf(m, { ...observed, data: { metadata: { labels }, status: { phase: "Pending" } } }), {
    phase: "Pending",
    message: "waiting for the PersistentVolumeClaim db-data (Pending)",
  });
  assert.deepEqual(phaseOf(m, { ...observed, report: report("progressing", "0/1 pods ready") }), {
    phase: "Progressing",
    message: "StatefulSet db: 0/1 pods ready",
  });
  assert.equal(phaseOf(m, { ...observed, report: report("failed", "spec.x: bad") }).phase, "Failed");
  assert.deepEqual(phaseOf(m, { ...observed, credentials: { metadata: { name: "db-credentials" } } }), {
    phase: "Failed",
    message: "Secret db-credentials exists and was not made for this MySQL; rename or remove it",
  });
  const ready = statusOf(m, observed);
  assert.equal(ready.phase, "Ready");
  assert.equal(ready.message, "MySQL 8.0 is ready at db.default.svc:3306");
  const cond = Object.fromEntries((ready.conditions ?? []).map((c) => [c.type, c]));
  assert.equal(cond.Ready?.status, "True");
  assert.equal(cond.Ready?.observedGeneration, 1);
  assert.equal(cond.Progressing?.status, "False");
  assert.equal(cond.Degraded?.status, "False");
  assert.deepEqual(statusOf(m, observed, ready), ready, "nothing changes when nothing did");
  const grown = { ...m, spec: { ...m.spec, storageSize: "2Gi" } };
  const small = { ...bound, spec: { resources: { requests: { storage: "1Gi" } } } };
  assert.equal(
    phaseOf(grown, { ...observed, data: small }).message,
    "MySQL 8.0 is ready at db.default.svc:3306; its data volume requests 1Gi, not 2Gi",
  );
  assert.equal(
    phaseOf(
      { ...m, spec: { ...m.spec, storageSize: "1.5Gi" } },
      { ...observed, data: { ...small, spec: { resources: { requests: { storage: "1536Mi" } } } } },
    ).message,
    "MySQL 8.0 is ready at db.default.svc:3306",
    "the same size, written differently",
  );
});

/** A manager running both controllers on the fake; its log lines are collected. */
async function runOn(fake: FakeClient, t: { after: (fn: () => Promise<void>) => void }, lines: string[] = []) {
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ level: "debug", destination });
  const manager = await Manager.create({ name: "mysql-operator", client: fake, log });
  manager.add(mysqlController);
  manager.add(dataController);
  const running = manager.start();
  const stop = async () => {
    await manager.stop();
    await running;
  };
  t.after(stop);
  await manager.whenLeading();
  return stop;
}

const decode = (s: corev1.Secret, key: string) => Buffer.from(s.data?.[key] ?? "", "base64").toString("utf8");

test("on the fake: credentials are generated once, kept across operator restarts, and never logged", async (t) => {
  const fake = new FakeClient({ fieldManager: "test" });
  const lines: string[] = [];
  const stopFirst = await runOn(fake, t, lines);
  const mysql = await fake.create(MySQL, fresh({ backupSchedule: "@daily" }));
  const key = { namespace, name: "db-credentials" };
  const secret = await eventually("the credentials Secret", () => fake.peek(corev1.Secret, key));
  const passwords = Object.values(secretKeys).map((k) => decode(secret, k));
  for (const p of passwords) assert.match(p, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(passwords[0], passwords[1], "root and the user have different passwords");
  assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, mysql.metadata?.uid);
  await eventually("the data and backup volumes", () =>
    ["db-data", "db-backup"].every((name) => fake.peek(corev1.PersistentVolumeClaim, { namespace, name })),
  );
  await eventually("the StatefulSet", () => fake.peek(appsv1.StatefulSet, { namespace, name: "db" }));
  await eventually("both finalizers", () => {
    const f = fake.peek(MySQL, { namespace, name: "db" })?.metadata?.finalizers ?? [];
    return f.includes(dataFinalizer) && f.includes("converge.dev/children.mysql");
  });

  await stopFirst();
  await runOn(fake, t, lines);
  await fake.patch(MySQL, { namespace, name: "db" }, "merge", { spec: { mysqlVersion: "8.4" } });
  await eventually(
    "the StatefulSet to run the new version",
    () =>
      fake.peek(appsv1.StatefulSet, { namespace, name: "db" })?.spec?.template.spec?.containers[0]?.image ===
      "mysql:8.4",
  );
  const after = fake.peek(corev1.Secret, key);
  assert.deepEqual(
    Object.values(secretKeys).map((k) => decode(after as corev1.Secret, k)),
    passwords,
    "a restarted operator keeps the passwords",
  );
  const status = JSON.stringify(fake.peek(MySQL, { namespace, name: "db" })?.status ?? {});
  const logged = lines.join("");
  for (const p of passwords) {
    assert.ok(!logged.includes(p), "a password was logged");
    assert.ok(!status.includes(p), "a password is in the status");
    assert.ok(!logged.includes(Buffer.from(p).toString("base64")), "a password was logged in base64");
  }
  const [first, second] = [generatePassword(), generatePassword()];
  assert.notEqual(first, second);
});

test("on the fake: deletion keeps the data without owner (Retain) or deletes it (Delete)", async (t) => {
  const fake = new FakeClient({ fieldManager: "test" });
  await runOn(fake, t);
  await fake.create(MySQL, fresh({}, "kept"));
  await fake.create(MySQL, { ...sample({ deletionPolicy: "Delete" }, "gone"), metadata: { name: "gone", namespace } });
  for (const name of ["kept", "gone"]) {
    await eventually(`${name}'s data`, () =>
      fake.peek(corev1.PersistentVolumeClaim, { namespace, name: `${name}-data` }) &&
      fake.peek(MySQL, { namespace, name })?.metadata?.finalizers?.includes(dataFinalizer)
        ? true
        : undefined,
    );
    await fake.delete(MySQL, { namespace, name });
    await eventually(`${name} to be deleted`, () => (fake.peek(MySQL, { namespace, name }) ? undefined : true));
  }
  const keptData = fake.peek(corev1.PersistentVolumeClaim, { namespace, name: "kept-data" });
  assert.ok(keptData, "Retain keeps the data volume");
  assert.deepEqual(keptData.metadata?.ownerReferences ?? [], [], "and releases it from its owner");
  assert.ok(fake.peek(corev1.Secret, { namespace, name: "kept-credentials" }), "Retain keeps the credentials");
  assert.equal(fake.peek(corev1.PersistentVolumeClaim, { namespace, name: "gone-data" }), undefined);
  assert.equal(fake.peek(corev1.Secret, { namespace, name: "gone-credentials" }), undefined);
});
