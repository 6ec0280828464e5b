/**
 * Chaos: the operator as its own process, killed at the worst moments, with the invariants that matter checked on
 * the plane. A failover whose operator is killed (SIGKILL) between promoting the replica and switching the write
 * Service is finished by the next operator — one promotion, to the same replica. A leader killed in the middle of
 * a rollout is replaced by the standby, which finishes it — each pod restarted once, one pre-upgrade backup, and
 * one backup (one Job) per schedule slot throughout.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { batchv1, corev1 } from "converge-sdk";
import { eventually, FaultProxy, spawnOperator } from "converge-sdk/testing";
import { MySQLCluster } from "../src/api/cluster.ts";
import { slotAnnotation } from "../src/cluster/backups.ts";
import { labels, observed, revisionAnnotation } from "../src/names.ts";
import {
  backupsOf,
  client,
  clusterWhen,
  eventsOf,
  isReady,
  plane,
  podsOf,
  readyCluster,
  recordChanges,
  smallCluster,
} from "./helpers.ts";

const fixture = new URL("./fixtures/operator.ts", import.meta.url);

const count = async (namespace: string, reason: string) =>
  (await eventsOf(namespace, reason)).reduce((n, e) => n + (e.series?.count ?? 1), 0);

test("chaos: the operator killed (SIGKILL) mid-failover; the next one finishes it — one promotion, to the replica chosen", async (t) => {
  const namespace = await plane.namespace(t);
  const dir = await mkdtemp(join(tmpdir(), "mysql-cluster-chaos-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await using proxy = await FaultProxy.start({ upstream: plane.credentials, kubeconfigPath: join(dir, "kubeconfig") });
  const first = await spawnOperator(fixture, { kubeconfig: proxy.kubeconfig, env: { WATCH_NAMESPACE: namespace } });
  t.after(() => first.kill());
  await first.ready();
  await client.create(MySQLCluster, smallCluster(namespace, "chaos"));
  await readyCluster(namespace, "chaos");
  for (const [pod, lag] of [
    ["chaos-1", "9"],
    ["chaos-2", "1"],
  ]) {
    await client.patch(corev1.Pod, { namespace, name: pod ?? "" }, "merge", {
      metadata: { annotations: { [observed.lag]: lag ?? "" } },
    });
  }
  const selectors = await recordChanges(corev1.Service, namespace, (s) =>
    s.metadata?.name === "chaos" ? s.spec?.selector?.[labels.podName] : undefined,
  );
  const primaries = new Set<string>();
  const roles = await recordChanges(corev1.Pod, namespace, (p) => {
    if (p.metadata?.labels?.[labels.role] === "primary") primaries.add(p.metadata.name ?? "");
    return undefined;
  });
  t.after(() => {
    selectors.stop();
    roles.stop();
  });

  // The write Service's switch is held on the wire, never answered: the operator is killed there.
  proxy.inject({ verb: "patch", resource: "services", action: { stall: true }, times: 1 });
  await client.delete(corev1.Pod, { namespace, name: "chaos-0" });
  await eventually("the Service switch to be held", () => proxy.heldCount >= 1);
  first.child.kill("SIGKILL");
  const midway = await client.get(MySQLCluster, { namespace, name: "chaos" });
  assert.equal(midway.status?.failover?.to, "chaos-2", "the promotion was decided and recorded");
  assert.equal(midway.status?.primary, "chaos-0", "and not finished");
  assert.equal(
    (await client.get(corev1.Pod, { namespace, name: "chaos-2" })).metadata?.labels?.[labels.role],
    "primary",
    "the replica was promoted before the kill",
  );
  assert.equal(
    (await client.get(corev1.Service, { namespace, name: "chaos" })).spec?.selector?.[labels.podName],
    "chaos-0",
  );

  const second = await spawnOperator(fixture, { kubeconfig: plane.kubeconfig, env: { WATCH_NAMESPACE: namespace } });
  t.after(() => second.kill());
  await second.ready();
  const after = await clusterWhen(
    namespace,
    "chaos",
    (c) => c.status?.primary === "chaos-2" && isReady(c),
    "chaos-2 primary, Ready",
  );
  assert.deepEqual(
    after.status?.failovers?.map((f) => [f.from, f.to]),
    [["chaos-0", "chaos-2"]],
    "one promotion",
  );
  assert.deepEqual(selectors.seen, ["chaos-0", "chaos-2"], "the write Service switched once");
  assert.deepEqual([...primaries].sort(), ["chaos-0", "chaos-2"], "no other pod was ever primary");
  // Events are written in the background (and the killed operator's last ones may be lost): wait, then count.
  await eventually("the Promoted Event", async () => (await count(namespace, "Promoted")) >= 1);
  assert.equal(await count(namespace, "Promoted"), 1);
  assert.ok((await count(namespace, "FailoverStarted")) <= 1, "decided once");
  assert.equal((await second.stop()).code, 0, second.stderr);
});

test("chaos: the leader killed mid-upgrade; the standby finishes — each pod restarted once, one pre-upgrade backup, one backup per slot", async (t) => {
  const namespace = await plane.namespace(t);
  const dir = await mkdtemp(join(tmpdir(), "mysql-cluster-chaos-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Both replicas talk through the proxy, which holds the deletion of the second pod to restart: the leader is
  // killed there, with that restart recorded in the status and not carried out.
  await using proxy = await FaultProxy.start({ upstream: plane.credentials, kubeconfigPath: join(dir, "kubeconfig") });
  const lines: Array<{ who: string; event: string }> = [];
  const start = (who: string) =>
    spawnOperator(fixture, {
      kubeconfig: proxy.kubeconfig,
      env: { WATCH_NAMESPACE: namespace, LEASE: "mysql-cluster-operator", IDENTITY: who },
      onLine: (line, stream) => {
        if (stream === "stdout" && line.startsWith('{"event"'))
          lines.push({ who, ...(JSON.parse(line) as { event: string }) });
      },
    });
  const operators = { a: await start("a"), b: await start("b") };
  t.after(() => {
    operators.a.kill();
    operators.b.kill();
  });
  const leader = await eventually("a leader", () => lines.find((l) => l.event === "leading")?.who);
  await client.create(
    MySQLCluster,
    smallCluster(namespace, "lead", { backup: { schedule: "*/3 * * * * *", keep: 100, timeoutSeconds: 60 } }),
  );
  await readyCluster(namespace, "lead");
  const original = new Map(
    (await podsOf(namespace, "lead")).map((p) => [p.metadata?.uid ?? "", p.metadata?.name ?? ""]),
  );
  // What happened, in order, for the message of a failed assertion.
  const timeline: string[] = [];
  const deleted: string[] = [];
  const names = new Map<string, string>();
  const jobUids = new Map<string, Set<string>>();
  const pods = await recordChanges(corev1.Pod, namespace, (p) => {
    const uid = p.metadata?.uid ?? "";
    const revision = p.metadata?.annotations?.[revisionAnnotation];
    if (revision)
      timeline.push(
        `pod ${p.metadata?.name} ${uid.slice(0, 8)} ${revision}${p.metadata?.deletionTimestamp ? " deleting" : ""}`,
      );
    if (p.metadata?.deletionTimestamp && !deleted.includes(uid)) {
      deleted.push(uid);
      names.set(uid, `${p.metadata.name} (${revision ?? "?"})`);
    }
    return undefined;
  });
  const rollouts = await recordChanges(MySQLCluster, namespace, (c) => {
    const r = c.status?.rollout;
    timeline.push(
      `status ${r ? `${r.step} ${r.hash} restarted [${r.restarted?.join(",")}] pod ${r.pod ?? "-"} ${r.podUID?.slice(0, 8) ?? ""}` : `revision ${c.status?.revision?.hash}`}`,
    );
    return undefined;
  });
  const jobs = await recordChanges(batchv1.Job, namespace, (j) => {
    const set = jobUids.get(j.metadata?.name ?? "") ?? new Set<string>();
    set.add(j.metadata?.uid ?? "");
    jobUids.set(j.metadata?.name ?? "", set);
    return undefined;
  });
  t.after(() => {
    pods.stop();
    rollouts.stop();
    jobs.stop();
  });

  proxy.inject({ verb: "delete", resource: "pods", path: /\/pods\/lead-1$/, action: { stall: true }, times: 1 });
  await client.patch(MySQLCluster, { namespace, name: "lead" }, "merge", { spec: { version: "8.4" } });
  await eventually("the deletion of lead-1 to be held", () => proxy.heldCount >= 1, 60_000);
  (leader === "a" ? operators.a : operators.b).child.kill("SIGKILL");
  timeline.push(`killed ${leader}`);
  const midway = await client.get(MySQLCluster, { namespace, name: "lead" });
  assert.deepEqual(midway.status?.rollout?.restarted, ["lead-2"], "lead-2 restarted before the kill");
  assert.equal(midway.status?.rollout?.pod, "lead-1", "lead-1's restart recorded, its deletion held");
  const standby = leader === "a" ? "b" : "a";
  await eventually("the standby to lead", () => lines.some((l) => l.who === standby && l.event === "leading"));
  const done = await clusterWhen(
    namespace,
    "lead",
    (c) => c.status?.currentVersion === "8.4" && isReady(c),
    "upgraded",
    90_000,
  );
  assert.equal(done.status?.primary, "lead-0");

  // Each original pod restarted exactly once, in order, and no pod of the new revision.
  const restarted = deleted.map((uid) => original.get(uid) ?? `new pod ${names.get(uid)}`);
  assert.deepEqual(restarted, ["lead-2", "lead-1", "lead-0"], timeline.join("\n"));
  // A few more slots under the new leader.
  const backups = await eventually(
    "scheduled backups under both leaders",
    async () => {
      const all = await backupsOf(namespace, "lead");
      return all.filter((b) => b.spec.reason === "Scheduled" && b.status?.phase === "Completed").length >= 4
        ? all
        : undefined;
    },
    30_000,
  );
  const preUpgrade = backups.filter((b) => b.spec.reason === "PreUpgrade");
  assert.equal(preUpgrade.length, 1, "one pre-upgrade backup");
  // One backup per schedule slot, and each backup's Job made once.
  const slots = backups
    .filter((b) => b.spec.reason === "Scheduled")
    .map((b) => b.metadata?.annotations?.[slotAnnotation]);
  assert.equal(new Set(slots).size, slots.length, "one backup per slot");
  for (const [name, uids] of jobUids) assert.equal(uids.size, 1, `Job ${name} made ${uids.size} times`);
  for (const b of backups) {
    const name = b.metadata?.name ?? "";
    if (b.status?.phase === "Completed") assert.ok(jobUids.has(`${name}-1`), `the Job of ${name}`);
  }
  // Events are written in the background: wait for them, then count.
  await eventually("the upgrade's Events", async () => (await count(namespace, "UpgradeCompleted")) >= 1);
  assert.equal(await count(namespace, "UpgradeStarted"), 1);
  assert.equal(await count(namespace, "UpgradeCompleted"), 1);
});
