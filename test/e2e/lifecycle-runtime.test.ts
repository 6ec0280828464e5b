/**
 * The manager's process-level guarantees, with operators in child processes: leader election on a Lease (never
 * two leaders reconciling at once; a standby takes over after the leader is killed), graceful shutdown on
 * SIGTERM, and informers that resume after an apiserver restart without losing a change.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Cache } from "../../src/cache/index.ts";
import { Client } from "../../src/client/index.ts";
import { ControlPlane } from "../../src/cluster/index.ts";
import { eventually, spawnOperator, testPlane } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig });
test.after(() => client.close());

interface Line {
  identity: string;
  at: number;
  event: string;
  key?: string;
}

/** The fixture operator as its own process; `lines` are what it reports on stdout, a JSON object a line. */
async function operator(env: Record<string, string>) {
  const lines: Line[] = [];
  const spawned = await spawnOperator(join(import.meta.dirname, "fixtures", "operator.ts"), {
    env: { FIXTURE_KUBECONFIG: plane.kubeconfig, ...env },
    probes: false,
    echo: true,
    onLine: (line, stream) => {
      if (stream === "stdout") lines.push(JSON.parse(line) as Line);
    },
  });
  return { process: spawned, lines };
}

const work = (namespace: string, name: string): corev1.ConfigMap => ({
  metadata: { name, namespace, labels: { role: "work" } },
});

test("two managers on one Lease never reconcile at once, and the standby takes over when the leader is killed", async (t) => {
  const namespace = await plane.namespace(t);
  const env = { FIXTURE_NAMESPACE: namespace, FIXTURE_LEASE: "fixture-leader", FIXTURE_RECONCILE_MS: "20" };
  const a = await operator({ ...env, FIXTURE_IDENTITY: "a" });
  t.after(() => a.process.kill());
  const b = await operator({ ...env, FIXTURE_IDENTITY: "b" });
  t.after(() => b.process.kill());
  const leader = await eventually("a leader", () => [...a.lines, ...b.lines].find((l) => l.event === "leading"));
  const [first, second] = leader.identity === "a" ? [a, b] : [b, a];
  for (let i = 0; i < 5; i++) await client.create(corev1.ConfigMap, work(namespace, `w${i}`));
  await eventually("the leader to reconcile all", () => first.lines.filter((l) => l.event === "end").length >= 5);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(second.lines.filter((l) => l.event === "start").length, 0, "the standby did not reconcile");
  assert.equal(second.lines.filter((l) => l.event === "leading").length, 0, "the standby did not lead");

  first.process.child.kill("SIGKILL");
  const killedAt = Date.now();
  const takeover = await eventually("the standby to take over", () => second.lines.find((l) => l.event === "leading"));
  // It may take over only after the lease expired (2 s since the last renewal, observed by its own clock).
  assert.ok(takeover.at - killedAt >= 300, `took over ${takeover.at - killedAt} ms after the kill`);
  assert.ok(takeover.at - killedAt < 10_000);
  await client.create(corev1.ConfigMap, work(namespace, "after"));
  const done = await eventually("the new leader to reconcile", async () => {
    const cm = await client.get(corev1.ConfigMap, { namespace, name: "after" });
    return cm.metadata?.annotations?.["done-by"];
  });
  assert.equal(done, second === a ? "a" : "b");
  const lease = await client.get((await import("../../src/types/index.ts")).coordinationv1.Lease, {
    namespace,
    name: "fixture-leader",
  });
  assert.equal(lease.spec?.holderIdentity, second === a ? "a" : "b");
  assert.ok((lease.spec?.leaseTransitions ?? 0) >= 1);
});

test("SIGTERM lets the running reconcile finish and releases the lease", async (t) => {
  const namespace = await plane.namespace(t);
  const op = await operator({
    FIXTURE_NAMESPACE: namespace,
    FIXTURE_LEASE: "term-leader",
    FIXTURE_RECONCILE_MS: "1500",
    FIXTURE_IDENTITY: "term",
  });
  t.after(() => op.process.kill());
  await eventually("leading", () => op.lines.some((l) => l.event === "leading"));
  await client.create(corev1.ConfigMap, work(namespace, "slow"));
  await eventually("the reconcile to start", () => op.lines.some((l) => l.event === "start"));
  const { code } = await op.process.stop();
  assert.equal(code, 0);
  const events = op.lines.map((l) => l.event);
  assert.ok(events.indexOf("end") > events.indexOf("start"), `in-flight work finished: ${events.join(",")}`);
  assert.equal(events.at(-1), "exited");
  const cm = await client.get(corev1.ConfigMap, { namespace, name: "slow" });
  assert.equal(cm.metadata?.annotations?.["done-by"], "term");
  const { coordinationv1 } = await import("../../src/types/index.ts");
  const lease = await client.get(coordinationv1.Lease, { namespace, name: "term-leader" });
  assert.equal(lease.spec?.holderIdentity, "", "the lease was released");
});

test("an informer resumes after an apiserver restart and misses no change", async (t) => {
  const own = await ControlPlane.start({ mode: "minimal", name: "restart" });
  t.after(() => own.stop());
  const c = await Client.connect({ kubeconfig: own.kubeconfigPath });
  const cache = new Cache(c, { informerDefaults: { backoff: { initialMs: 100, maxMs: 1000 } } });
  t.after(async () => {
    await cache.stop();
    await c.close();
  });
  const informer = cache.informer(corev1.ConfigMap, { namespace: "default" });
  cache.start();
  await cache.waitForSync(10_000);
  await c.create(corev1.ConfigMap, { metadata: { name: "x", namespace: "default" }, data: { v: "0" } });
  await eventually("the informer to see v=0", () => informer.store.get("default/x")?.data?.v === "0");
  const watchesBefore = informer.stats.watches;
  await own.restart("kube-apiserver");
  for (let i = 1; i <= 20; i++) {
    await c.patch(corev1.ConfigMap, { namespace: "default", name: "x" }, "merge", { data: { v: String(i) } });
  }
  await c.create(corev1.ConfigMap, { metadata: { name: "y", namespace: "default" } });
  await eventually(
    "the informer to see the last change",
    () => informer.store.get("default/x")?.data?.v === "20",
    30_000,
  );
  await eventually("the informer to see the new object", () => informer.store.get("default/y"));
  assert.ok(informer.stats.watches > watchesBefore, "the watch was re-established");
});

test("a watch that goes silent is detected and restarted", async (t) => {
  const own = await ControlPlane.start({ mode: "minimal", name: "stall" });
  t.after(() => own.stop());
  const c = await Client.connect({ kubeconfig: own.kubeconfigPath });
  const cache = new Cache(c, {
    informerDefaults: { inactivityTimeoutMs: 1_500, backoff: { initialMs: 100, maxMs: 500 } },
  });
  t.after(async () => {
    await cache.stop();
    await c.close();
  });
  const informer = cache.informer(corev1.ConfigMap, { namespace: "default" });
  cache.start();
  await cache.waitForSync(10_000);
  const pid = own.state().components.find((x) => x.name === "kube-apiserver")?.pid as number;
  // A frozen apiserver keeps the TCP connection open but sends nothing: the silent stall TCP cannot detect.
  process.kill(pid, "SIGSTOP");
  try {
    await eventually("the stall to be detected", () => informer.stats.stalls >= 1, 10_000);
  } finally {
    process.kill(pid, "SIGCONT");
  }
  await c.create(corev1.ConfigMap, { metadata: { name: "after-stall", namespace: "default" } });
  await eventually("the informer to recover", () => informer.store.get("default/after-stall"), 30_000);
});
