/**
 * Leader election's fence on the in-memory FakeClient, with injected clocks: leadership is measured on the
 * monotonic clock only, a Lease held by another identity ends it at once, and a manager that lost its Lease aborts
 * its reconciles and refuses writes before they are sent. (The same guarantees on a real plane, behind fault
 * proxies: test/e2e/leader.test.ts.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isNotLeader, NotLeaderError } from "../../src/client/index.ts";
import { controller, silentLogger } from "../../src/controller/index.ts";
import { LeaderElector, LeadershipLostError, Manager } from "../../src/manager/index.ts";
import { eventually, FakeClient, fakeApiError } from "../../src/testing/index.ts";
import { coordinationv1, corev1 } from "../../src/types/index.ts";

const namespace = "default";
const timings = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 20 };

/** Clocks the test moves by hand. */
function manualClock() {
  const clock = { mono: 1_000_000, wall: Date.parse("2030-01-01T00:00:00Z") };
  return { clock, leaderClock: { monotonic: () => clock.mono, wall: () => new Date(clock.wall) } };
}

test("the fence follows the monotonic clock: a wall-clock step back does not extend it, a monotonic step ends it", async (t) => {
  const fake = new FakeClient();
  const { clock, leaderClock } = manualClock();
  const lost: string[] = [];
  const elector = new LeaderElector(fake, {
    name: "l",
    namespace,
    identity: "me",
    ...timings,
    clock: leaderClock,
    onStoppedLeading: (reason) => lost.push(reason),
  });
  t.after(() => elector.stop());
  elector.start();
  await eventually("leading", () => elector.isLeader);
  // Every renewal fails from now on; the wall clock goes back an hour.
  fake.intercept = (a) => (a.kind === "Lease" ? fakeApiError(500, "InternalError", "injected") : undefined);
  clock.wall -= 3_600_000;
  clock.mono += timings.renewDeadlineMs - 1;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(elector.checkFence(), true, "within the renew deadline");
  clock.mono += 2;
  // No timer has to fire: the next write's check sees the fence closed.
  assert.equal(elector.checkFence(), false);
  assert.equal(elector.isLeader, false);
  assert.deepEqual(lost, ["could not renew the lease within the renew deadline"]);
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(elector.fenceSignal.aborted);
  assert.ok(elector.fenceSignal.reason instanceof NotLeaderError);
});

test("a Lease held by another identity ends leadership at its first sight", async (t) => {
  const fake = new FakeClient();
  const { leaderClock } = manualClock();
  const lost: string[] = [];
  const elector = new LeaderElector(fake, {
    name: "l",
    namespace,
    identity: "me",
    ...timings,
    clock: leaderClock,
    onStoppedLeading: (reason) => lost.push(reason),
  });
  t.after(() => elector.stop());
  elector.start();
  await eventually("leading", () => elector.isLeader);
  const lease = fake.peek(coordinationv1.Lease, { namespace, name: "l" });
  // The monotonic clock stands still: the renew deadline is far off, only the sight of the thief counts.
  fake.seed(coordinationv1.Lease, {
    ...lease,
    spec: { ...lease?.spec, holderIdentity: "thief" },
  } as coordinationv1.Lease);
  await eventually("lost", () => lost.length > 0);
  assert.deepEqual(lost, ["the lease is held by thief"]);
  assert.equal(elector.checkFence(), false);
});

test("a manager that loses its Lease aborts its reconciles, refuses writes unsent, and (stop) rejects start()", async () => {
  const fake = new FakeClient({ fieldManager: "t" });
  const { clock, leaderClock } = manualClock();
  const manager = await Manager.create({
    name: "t",
    client: fake,
    log: silentLogger,
    namespace,
    leaderElection: { namespace, identity: "me", ...timings, clock: leaderClock },
    onLeadershipLost: "stop",
  });
  let signal: AbortSignal | undefined;
  let refused: unknown;
  let release: () => void = () => {};
  manager.add(
    controller("c")
      .for(corev1.ConfigMap)
      .reconcileKey(async (_req, ctx) => {
        signal = ctx.signal;
        await new Promise<void>((r) => {
          release = r;
        });
        await fake
          .create(corev1.ConfigMap, { metadata: { name: "after", namespace } })
          .catch((err: unknown) => (refused = err));
        return undefined;
      }),
  );
  const outcome = manager.start().then(
    () => undefined,
    (err: unknown) => err,
  );
  await manager.whenLeading();
  await fake.create(corev1.ConfigMap, { metadata: { name: "p", namespace } });
  await eventually("the reconcile to start", () => signal);
  clock.mono += timings.renewDeadlineMs;
  await assert.rejects(fake.create(corev1.ConfigMap, { metadata: { name: "refused", namespace } }), (err) =>
    isNotLeader(err),
  );
  await eventually("the reconcile's signal to abort", () => signal?.aborted);
  release();
  assert.ok((await outcome) instanceof LeadershipLostError);
  await eventually("the reconcile's write to be refused", () => isNotLeader(refused));
  const sent = fake
    .writes()
    .filter((w) => w.kind === "ConfigMap")
    .map((w) => w.name);
  assert.deepEqual(sent, ["p"], "refused writes were never sent");
});
