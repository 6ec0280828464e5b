/**
 * Leader election under faults, with operator replicas in child processes (fixtures/leader-operator.ts), each
 * behind a FaultProxy of its own so that a fault hits one replica and every request is attributed to it. The
 * invariant, read from the proxies' logs: no write of a deposed leader reaches the apiserver after another replica
 * took the Lease. Lease 4 s, renew deadline 3 s, retry 0.5 s.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, type TestContext, test } from "node:test";
import { Client } from "../../src/client/index.ts";
import {
  eventually,
  FaultProxy,
  type OperatorProcess,
  type ProxiedRequest,
  spawnOperator,
  testPlane,
} from "../../src/testing/index.ts";
import { coordinationv1, corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const admin = await Client.connect({ kubeconfig: plane.kubeconfig });
const dir = await mkdtemp(join(tmpdir(), "converge-leader-"));
after(async () => {
  await admin.close();
  await rm(dir, { recursive: true, force: true });
});

const leaseMs = { duration: 4_000, renewDeadline: 3_000, retry: 500 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Line {
  identity: string;
  at: number;
  event: string;
  err?: string;
  aborted?: boolean;
}

interface Replica {
  identity: string;
  proxy: FaultProxy;
  process: OperatorProcess;
  /** What it reported on stdout, a JSON object a line. */
  lines: Line[];
}

async function replica(t: TestContext, namespace: string, identity: string, env: Record<string, string> = {}) {
  const proxy = await FaultProxy.start({
    upstream: plane.credentials,
    kubeconfigPath: join(dir, `${namespace}-${identity}.kubeconfig`),
    maxHoldMs: 30_000,
  });
  const lines: Line[] = [];
  const operator = await spawnOperator(join(import.meta.dirname, "fixtures", "leader-operator.ts"), {
    env: { LF_KUBECONFIG: proxy.kubeconfig, LF_NAMESPACE: namespace, LF_IDENTITY: identity, ...env },
    probes: false,
    echo: true,
    onLine: (line, stream) => {
      if (stream === "stdout") lines.push(JSON.parse(line) as Line);
    },
  });
  t.after(async () => {
    await operator.kill();
    await proxy.stop();
  });
  return { identity, proxy, process: operator, lines } satisfies Replica;
}

const leaseWrite = (q: ProxiedRequest) =>
  q.resource === "leases" && (q.verb === "create" || q.verb === "update") && q.status >= 200 && q.status < 300;

/** Writes that may have taken effect: forwarded, and accepted or never answered. Leases and Events aside. */
const committedWrites = (r: Replica) =>
  r.proxy.requests.filter(
    (q) =>
      q.forwarded &&
      ["create", "update", "patch", "delete"].includes(q.verb ?? "") &&
      q.resource !== "leases" &&
      q.resource !== "events" &&
      (q.status === 0 || (q.status >= 200 && q.status < 300)),
  );

/** How long (ms) the latest write of `old` may have landed after `since` (another replica's acquisition). */
function overlap(old: Replica, since: number): { ms: number; late: number } {
  const late = committedWrites(old).filter((q) => (q.answeredAt ?? q.at) > since);
  return { ms: Math.max(0, ...late.map((q) => (q.answeredAt ?? q.at) - since)), late: late.length };
}

/** When `r` first wrote the Lease successfully (the proxy received the request): its acquisition. */
const acquiredAt = (r: Replica) => r.proxy.requests.find(leaseWrite)?.at;

/** Two replicas and three ConfigMaps the leader patches every 100 ms; resolves once writes flow. */
async function twoReplicas(t: TestContext, env: Record<string, string> = {}) {
  const namespace = await plane.namespace(t);
  const a = await replica(t, namespace, "a", env);
  const b = await replica(t, namespace, "b", env);
  const first = await eventually("a leader", () => [...a.lines, ...b.lines].find((l) => l.event === "leading"));
  const [leader, standby] = first.identity === "a" ? [a, b] : [b, a];
  for (let i = 0; i < 3; i++) {
    await admin.create(corev1.ConfigMap, { metadata: { name: `tick-${i}`, namespace, labels: { role: "tick" } } });
  }
  await eventually("the leader's writes to flow", () => committedWrites(leader).length >= 10);
  return { namespace, leader, standby };
}

test("a partitioned leader stops writing before the standby takes over", async (t) => {
  const { leader, standby } = await twoReplicas(t);
  const faultAt = Date.now();
  leader.proxy.partition();
  const takeover = await eventually("the standby to take over", () => acquiredAt(standby), 20_000);
  assert.ok(
    takeover - faultAt <= leaseMs.duration + 2_000,
    `the standby took over ${takeover - faultAt} ms after the partition`,
  );
  await sleep(1_000);
  // The network comes back and the old connections carry on: whatever the old leader still had queued arrives.
  leader.proxy.heal({ held: "forward" });
  await sleep(2_000);
  const o = overlap(leader, takeover);
  assert.equal(o.ms, 0, `${o.late} writes of the old leader landed up to ${o.ms} ms after the takeover`);
});

test("a leader whose renewals hang while its other writes flow stops writing before the standby takes over", async (t) => {
  const { leader, standby } = await twoReplicas(t);
  // Slow writes, so that some are mid-way when the lease goes.
  leader.proxy.inject({ verb: "patch", resource: "configmaps", action: { delayMs: 400 } });
  leader.proxy.inject({ resource: "leases", action: { stall: true } });
  const takeover = await eventually("the standby to take over", () => acquiredAt(standby), 20_000);
  await sleep(2_000);
  const o = overlap(leader, takeover);
  assert.equal(o.ms, 0, `${o.late} writes of the old leader landed up to ${o.ms} ms after the takeover`);
});

test("a leader that sees the Lease held by another identity stops writing at once", async (t) => {
  const { namespace, leader } = await twoReplicas(t);
  const key = { namespace, name: "fixture-leader" };
  const lease = await admin.get(coordinationv1.Lease, key);
  const now = `${new Date().toISOString().slice(0, 23)}000Z`;
  await admin.update(coordinationv1.Lease, {
    ...lease,
    spec: { ...lease.spec, holderIdentity: "thief", leaseDurationSeconds: 30, acquireTime: now, renewTime: now },
  });
  const stolenAt = Date.now();
  const seen = await eventually("the leader to read the Lease", () => {
    const q = leader.proxy.requests.find((r) => r.resource === "leases" && r.at > stolenAt && r.status === 200);
    return q?.answeredAt;
  });
  await sleep(2_000);
  const late = committedWrites(leader).filter((q) => q.at > seen + leaseMs.retry);
  assert.equal(late.length, 0, `${late.length} writes sent more than ${leaseMs.retry} ms after it saw the thief`);
});

test("a wall-clock step on the leader does not extend its leadership", async (t) => {
  const { leader, standby } = await twoReplicas(t);
  leader.process.child.kill("SIGUSR2");
  await eventually("the clock step", () => leader.lines.some((l) => l.event === "wall-step"));
  // Renewals fail fast from now on: only the leader's sense of elapsed time decides when it steps down.
  leader.proxy.inject({ resource: "leases", action: { status: 500 } });
  const takeover = await eventually("the standby to take over", () => acquiredAt(standby), 20_000);
  await sleep(2_000);
  const o = overlap(leader, takeover);
  assert.equal(o.ms, 0, `${o.late} writes of the old leader landed up to ${o.ms} ms after the takeover`);
});

test("losing the lease aborts the in-flight reconcile, refuses its writes and exits non-zero", async (t) => {
  const namespace = await plane.namespace(t);
  const op = await replica(t, namespace, "solo", { LF_SHUTDOWN_MS: "30000" });
  await eventually("leading", () => op.lines.some((l) => l.event === "leading"));
  op.proxy.inject({ verb: "patch", resource: "configmaps", action: { delayMs: 8_000 } });
  await admin.create(corev1.ConfigMap, { metadata: { name: "slow", namespace, labels: { role: "slow" } } });
  await eventually("the reconcile to start", () => op.lines.some((l) => l.event === "slow-start"));
  op.proxy.inject({ resource: "leases", action: { status: 500 } });
  const first = await eventually(
    "the first write to end",
    () => op.lines.find((l) => l.event === "first-failed" || l.event === "first-written"),
    15_000,
  );
  assert.deepEqual(
    { event: first.event, aborted: first.aborted },
    { event: "first-failed", aborted: true },
    JSON.stringify(first),
  );
  const second = await eventually("the second write to end", () =>
    op.lines.find((l) => l.event === "second-failed" || l.event === "second-written"),
  );
  assert.deepEqual({ event: second.event, err: second.err }, { event: "second-failed", err: "NotLeaderError" });
  const patches = op.proxy.requests.filter((q) => q.verb === "patch" && q.path.endsWith("/configmaps/slow"));
  assert.equal(patches.length, 1, "the refused write was never sent");
  assert.equal(patches[0]?.forwarded, false, "the aborted write never reached the apiserver");
  const { code } = await op.process.exited;
  assert.notEqual(code, 0, "the process exits non-zero");
});

test("SIGTERM releases the Lease only after the last write was answered", async (t) => {
  const namespace = await plane.namespace(t);
  const op = await replica(t, namespace, "term");
  await eventually("leading", () => op.lines.some((l) => l.event === "leading"));
  op.proxy.inject({ verb: "patch", resource: "configmaps", action: { delayMs: 2_000 } });
  await admin.create(corev1.ConfigMap, { metadata: { name: "detached", namespace, labels: { role: "detached" } } });
  await eventually("the reconcile to start", () => op.lines.some((l) => l.event === "detached-start"));
  assert.equal((await op.process.stop()).code, 0);
  const cm = await admin.get(corev1.ConfigMap, { namespace, name: "detached" });
  assert.equal(cm.metadata?.annotations?.detached, "term", "the write in flight at SIGTERM landed");
  const lease = await admin.get(coordinationv1.Lease, { namespace, name: "fixture-leader" });
  assert.equal(lease.spec?.holderIdentity, "", "the Lease was released");
  const release = op.proxy.requests.findLast(leaseWrite);
  const write = committedWrites(op).findLast((q) => q.path.endsWith("/configmaps/detached"));
  assert.ok(release && write?.answeredAt, "both requests were seen");
  assert.ok(release.at >= write.answeredAt, `released ${write.answeredAt - release.at} ms before the write landed`);
});

test("a wedged request pool does not hold the lease renewals", async (t) => {
  const { namespace, leader, standby } = await twoReplicas(t);
  // Reads of ConfigMaps hang: 40 of them fill the leader's 32 connections for ordinary requests.
  leader.proxy.inject({ verb: "get", resource: "configmaps", action: { stall: true } });
  await admin.create(corev1.ConfigMap, { metadata: { name: "wedge", namespace, labels: { role: "wedge" } } });
  await eventually("the pool to wedge", () => leader.lines.some((l) => l.event === "wedged"));
  const renewalsBefore = leader.proxy.requests.filter(leaseWrite).length;
  await sleep(2 * leaseMs.duration);
  assert.equal(acquiredAt(standby), undefined, "the standby never took over");
  assert.ok(leader.proxy.requests.filter(leaseWrite).length > renewalsBefore + 5, "the leader went on renewing");
  assert.equal(
    leader.lines.find((l) => l.event === "rejected"),
    undefined,
  );
});
