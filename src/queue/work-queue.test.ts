import assert from "node:assert/strict";
import { test } from "node:test";
import type { QueueObserver, ReconcileResultLabel, RunDetail } from "./observer.ts";
import type { ReconcileResult } from "./result.ts";
import { WorkQueue } from "./work-queue.ts";

const done: ReconcileResult = { kind: "done" };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds, polling every millisecond; fails the test after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 1500): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition}`);
    await sleep(1);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Timers that keep the event loop alive (unref'd or cleared ones are not listed). */
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

interface Finished {
  key: string;
  result: ReconcileResultLabel;
  detail: RunDetail;
}

/** An observer that records what the queue reports. */
function recorder() {
  const log = {
    added: [] as string[],
    retried: [] as string[],
    depths: [] as number[],
    workers: [] as number[],
    queued: [] as number[],
    finished: [] as Finished[],
  };
  const observer: QueueObserver = {
    added: (key) => log.added.push(key),
    retried: (key) => log.retried.push(key),
    depth: (n) => log.depths.push(n),
    activeWorkers: (n) => log.workers.push(n),
    queued: (_key, seconds) => log.queued.push(seconds),
    finished: (key, result, seconds, detail) => {
      assert.ok(seconds >= 0);
      log.finished.push({ key, result, detail });
    },
  };
  return { log, observer };
}

test("adding a waiting key keeps one entry: the higher priority and the earliest ready time win", async () => {
  const order: string[] = [];
  const { log, observer } = recorder();
  const q = new WorkQueue(
    async (key) => {
      order.push(key);
      return done;
    },
    { name: "dedup", observer },
  );
  q.add("a", { priority: -100 });
  q.add("b");
  q.add("a", { priority: 5 });
  q.add("a"); // a lower priority does not lower it back
  q.add("b", { afterMs: 60_000 }); // a delayed add does not delay a ready key
  q.add("c", { afterMs: 60_000 });
  q.add("c"); // an immediate add beats the pending delayed one
  q.add("d", { afterMs: 60_000 });
  q.add("d", { afterMs: 5 }); // the earlier of two delays wins
  assert.equal(q.depth, 4);
  assert.equal(log.added.length, 9, "every accepted add is reported, merged or not");
  q.start();
  await until(() => order.length === 4);
  assert.deepEqual(order, ["a", "b", "c", "d"]);
  assert.equal(q.depth, 0, "the 60 s delayed adds were merged away, not left behind");
  await sleep(10);
  assert.equal(order.length, 4);
  assert.equal(log.depths.at(-1), 0);
  await q.shutdown();
});

test("a key added while it runs runs exactly once more after the run, however often it was added", async () => {
  let runs = 0;
  let running = 0;
  let maxRunning = 0;
  const firstRun = deferred();
  const q = new WorkQueue(
    async () => {
      runs++;
      maxRunning = Math.max(maxRunning, ++running);
      if (runs === 1) await firstRun.promise;
      running--;
      return done;
    },
    { name: "dirty", maxConcurrency: 4 },
  );
  q.start();
  q.add("k");
  await until(() => runs === 1);
  for (let i = 0; i < 100; i++) q.add("k", { priority: i % 3 });
  assert.equal(q.depth, 1, "the adds during the run are one waiting entry");
  assert.equal(q.inFlight, 1);
  await sleep(5);
  assert.equal(runs, 1, "the waiting entry does not start while its key runs, even with idle workers");
  firstRun.resolve();
  await until(() => runs === 2 && q.inFlight === 0);
  await sleep(10);
  assert.equal(runs, 2);
  assert.equal(maxRunning, 1);
  await q.shutdown();
});

test("under a burst of adds spread over runs, a key never runs twice at once and its last add is followed by a run", async () => {
  const events: string[] = [];
  const running = new Map<string, number>();
  let overlaps = 0;
  const q = new WorkQueue(
    async (key) => {
      const now = (running.get(key) ?? 0) + 1;
      if (now > 1) overlaps++;
      running.set(key, now);
      events.push(`start ${key}`);
      await sleep(3);
      running.set(key, (running.get(key) ?? 0) - 1);
      return done;
    },
    { name: "burst", maxConcurrency: 4 },
  );
  q.start();
  let groups = 0;
  for (let i = 0; i < 100; i++) {
    q.add("a");
    q.add("b", { priority: 1 });
    events.push("add");
    // Synchronous groups of adds separated by short sleeps: each group can cause at most one more run per key.
    if (i % 10 === 0) {
      groups++;
      await sleep(1);
    }
  }
  groups++; // the adds after the last sleep
  await until(() => q.depth === 0 && q.inFlight === 0);
  const lastAdd = events.lastIndexOf("add");
  assert.ok(events.indexOf("start a", lastAdd) > lastAdd, "a run of a starts after its last add");
  assert.ok(events.indexOf("start b", lastAdd) > lastAdd, "a run of b starts after its last add");
  assert.equal(overlaps, 0);
  for (const key of ["a", "b"]) {
    const runs = events.filter((e) => e === `start ${key}`).length;
    assert.ok(runs >= 2 && runs <= groups, `${key} ran ${runs} times for ${groups} groups of adds`);
  }
  await q.shutdown();
});

test("maxConcurrency workers run different keys in parallel, never more", async () => {
  let running = 0;
  let maxRunning = 0;
  const runs = new Map<string, number>();
  const { log, observer } = recorder();
  const q = new WorkQueue(
    async (key) => {
      maxRunning = Math.max(maxRunning, ++running);
      runs.set(key, (runs.get(key) ?? 0) + 1);
      await sleep(4);
      running--;
      return done;
    },
    { name: "parallel", maxConcurrency: 3, observer },
  );
  for (let i = 0; i < 12; i++) q.add(`k${i}`);
  q.start();
  await until(() => runs.size === 12 && q.inFlight === 0);
  assert.equal(maxRunning, 3);
  assert.ok([...runs.values()].every((n) => n === 1));
  assert.equal(Math.max(...log.workers), 3);
  assert.equal(log.workers.at(-1), 0);
  assert.equal(log.queued.length, 12);
  // The last four keys waited while three rounds of 4 ms runs went before them.
  assert.ok(Math.max(...log.queued) >= 0.011, `queued at most ${Math.max(...log.queued)} s`);
  await q.shutdown();
});

test("higher priority runs first, FIFO within a priority; live changes overtake an initial list", async () => {
  const order: string[] = [];
  const q = new WorkQueue(
    async (key) => {
      order.push(key);
      await sleep(1);
      return done;
    },
    { name: "priority" },
  );
  q.add("list-1", { priority: -100 });
  q.add("live-1");
  q.add("list-2", { priority: -100 });
  q.add("urgent", { priority: 10 });
  q.add("live-2");
  q.add("list-3", { priority: -100 });
  q.start();
  await until(() => order.length === 6);
  assert.deepEqual(order, ["urgent", "live-1", "live-2", "list-1", "list-2", "list-3"]);

  order.length = 0;
  for (let i = 0; i < 20; i++) q.add(`obj-${i}`, { priority: -100 });
  await until(() => order.length === 1);
  q.add("changed");
  await until(() => order.length === 21);
  assert.equal(order[1], "changed", "the live change ran right after the run in flight");
  assert.deepEqual(
    order.filter((k) => k !== "changed"),
    Array.from({ length: 20 }, (_, i) => `obj-${i}`),
  );
  await q.shutdown();
});

test("afterMs delays a key, many delayed keys share one timer, and they run in due order", async () => {
  const started = new Map<string, number>();
  const q = new WorkQueue(
    async (key) => {
      started.set(key, performance.now());
      return done;
    },
    { name: "delay", maxConcurrency: 8 },
  );
  q.start();
  const baseline = activeTimers();
  const addedAt = performance.now();
  q.add("late", { afterMs: 30 });
  await sleep(10);
  assert.equal(started.size, 0);
  await until(() => started.has("late"));
  assert.ok((started.get("late") as number) - addedAt >= 29, "not started before afterMs");

  // 40 keys due 2 ms apart, added in a shuffled order.
  const delays = Array.from({ length: 40 }, (_, i) => 20 + 2 * i);
  const shuffled = delays.map((_, i) => delays[(i * 17) % delays.length] as number); // 17 is coprime to 40
  assert.equal(new Set(shuffled).size, delays.length);
  for (const d of shuffled) q.add(`d${d}`, { afterMs: d });
  assert.equal(q.depth, 40);
  assert.ok(activeTimers() - baseline <= 1, "a single timer for all delayed keys");
  await until(() => started.size === 41);
  const order = [...started.keys()].slice(1);
  assert.deepEqual(
    order,
    delays.map((d) => `d${d}`),
  );
  assert.equal(activeTimers(), baseline, "no timer left when nothing is delayed");
  await q.shutdown();
});

test("a delayed add of a key in flight runs once after both the run and the delay", async () => {
  const starts: number[] = [];
  const q = new WorkQueue(
    async () => {
      starts.push(performance.now());
      await sleep(starts.length === 1 ? 5 : 0);
      return done;
    },
    { name: "delay-running", maxConcurrency: 2 },
  );
  q.start();
  q.add("k");
  await until(() => starts.length === 1);
  const addedAt = performance.now();
  q.add("k", { afterMs: 20 });
  q.add("k", { afterMs: 25 });
  await until(() => starts.length === 2);
  assert.ok((starts[1] as number) - addedAt >= 19);
  await sleep(15);
  assert.equal(starts.length, 2);
  await q.shutdown();
});

test("error results are retried with per-key exponential backoff; other results reset the count", async () => {
  const seen = new Map<string, { failures: number; at: number }[]>();
  const { log, observer } = recorder();
  const script: Record<string, ReconcileResult[]> = {
    // 4 failures: retried after 5, 10, 20 and 40 ms.
    a: [
      { kind: "error", error: "e1" },
      { kind: "error", error: "e2" },
      { kind: "error", error: "e3" },
      { kind: "error", error: "e4" },
      done,
    ],
    // Each of requeueAfter and terminal resets the count; terminal is not retried.
    b: [
      { kind: "error", error: "e1" },
      { kind: "requeueAfter", ms: 5 },
      { kind: "error", error: "e2" },
      { kind: "terminal", error: "t" },
    ],
  };
  const q = new WorkQueue(
    async (key) => {
      const runs = seen.get(key) ?? [];
      seen.set(key, runs);
      runs.push({ failures: q.failures(key), at: performance.now() });
      return script[key]?.[runs.length - 1] ?? done;
    },
    { name: "backoff", maxConcurrency: 2, observer },
  );
  q.add("a");
  q.add("b");
  q.start();
  await until(() => seen.get("a")?.length === 5 && seen.get("b")?.length === 4 && q.inFlight === 0);
  await sleep(20);
  const a = seen.get("a") ?? [];
  assert.deepEqual(
    a.map((r) => r.failures),
    [0, 1, 2, 3, 4],
  );
  [5, 10, 20, 40].forEach((ms, i) => {
    const gap = (a[i + 1]?.at ?? 0) - (a[i]?.at ?? 0);
    assert.ok(gap >= ms - 1, `retry ${i + 1} after ${gap} ms, expected >= ${ms}`);
  });
  assert.deepEqual(
    (seen.get("b") ?? []).map((r) => r.failures),
    [0, 1, 0, 1],
  );
  assert.equal(seen.get("b")?.length, 4, "terminal is not retried");
  assert.equal(q.failures("a"), 0);
  assert.equal(q.failures("b"), 0);
  assert.deepEqual(
    log.finished.filter((f) => f.key === "b").map((f) => f.result),
    ["error", "requeue_after", "error", "terminal_error"],
  );
  assert.equal(log.retried.filter((k) => k === "a").length, 4);
  assert.equal(log.retried.filter((k) => k === "b").length, 2);
  await q.shutdown();
});

test("a handler that throws or rejects counts as an error and is retried; the queue keeps working", async () => {
  let calls = 0;
  const { log, observer } = recorder();
  const q = new WorkQueue(
    (key) => {
      if (key === "other") return Promise.resolve(done);
      calls++;
      if (calls === 1) throw new Error("thrown synchronously");
      if (calls === 2) return Promise.reject(new Error("rejected"));
      if (calls === 3) return Promise.resolve(undefined as unknown as ReconcileResult);
      return Promise.resolve(done);
    },
    { name: "throws", observer },
  );
  q.start();
  q.add("k");
  await until(() => calls === 4 && q.inFlight === 0);
  q.add("other");
  await until(() => log.finished.length === 5);
  assert.deepEqual(
    log.finished.map((f) => [f.key, f.result, f.detail.threw]),
    [
      ["k", "error", true],
      ["k", "error", true],
      ["k", "error", false], // an invalid result is an error, though nothing threw
      ["k", "success", false],
      ["other", "success", false],
    ],
  );
  await q.shutdown();
});

test("a timed-out run aborts its signal, keeps its key in flight until it settles, and is retried as an error", async () => {
  const events: string[] = [];
  let abortReason: unknown;
  let failuresAtRetry = -1;
  const { log, observer } = recorder();
  const q = new WorkQueue(
    async (key, signal) => {
      events.push(`start ${key}`);
      if (key === "slow" && events.length === 1) {
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        abortReason = signal.reason;
        events.push("aborted");
        await sleep(15); // still running after the abort
        events.push("settled");
        return done; // a timed-out run is an error whatever it returns
      }
      if (key === "slow") failuresAtRetry = q.failures(key);
      return done;
    },
    { name: "timeout", timeoutMs: 10, observer },
  );
  q.start();
  q.add("slow");
  await until(() => events.includes("aborted"));
  assert.equal(q.inFlight, 1);
  q.add("slow");
  q.add("other");
  await sleep(5);
  assert.deepEqual(events, ["start slow", "aborted"], "nothing starts until the timed-out handler settles");
  await until(() => events.length === 5 && q.inFlight === 0);
  assert.equal((abortReason as Error).name, "TimeoutError");
  assert.deepEqual(events.slice(2, 3), ["settled"]);
  assert.deepEqual(events.slice(3).sort(), ["start other", "start slow"]);
  assert.equal(failuresAtRetry, 1);
  assert.deepEqual(log.finished[0], { key: "slow", result: "error", detail: { threw: false, timedOut: true } });
  assert.deepEqual(log.retried, ["slow"]);
  await q.shutdown();
});

test("shutdown stops intake, starts no waiting key, waits for runs in flight and leaves no timers", async () => {
  const baseline = activeTimers();
  const started: string[] = [];
  const release = deferred();
  let finished = false;
  const { log, observer } = recorder();
  const q = new WorkQueue(
    async (key) => {
      started.push(key);
      await release.promise;
      finished = true;
      return { kind: "error", error: "would be retried if the queue were open" };
    },
    { name: "shutdown", timeoutMs: 60_000, observer },
  );
  q.add("a");
  q.add("b");
  q.add("later", { afterMs: 60_000 });
  q.start();
  await until(() => started.length === 1);
  assert.ok(activeTimers() > baseline);
  const stopping = q.shutdown();
  assert.equal(q.shutdown(), stopping, "shutdown is idempotent");
  q.add("c");
  assert.equal(q.depth, 0);
  assert.equal(log.added.includes("c"), false);
  release.resolve();
  assert.deepEqual(await stopping, { unfinished: [] });
  assert.equal(finished, true);
  assert.deepEqual(started, ["a"]);
  assert.equal(q.inFlight, 0);
  assert.deepEqual(log.retried, []);
  assert.equal(activeTimers(), baseline);
  q.start();
  q.add("d");
  await sleep(5);
  assert.deepEqual(started, ["a"], "a shut-down queue does not restart");
});

test("shutdown with a short cap resolves with the stuck key, aborts its signal and leaves no timers", async () => {
  const baseline = activeTimers();
  let signal: AbortSignal | undefined;
  const q = new WorkQueue(
    (_key, s) => {
      signal = s;
      return new Promise<ReconcileResult>(() => {}); // never settles
    },
    { name: "stuck", timeoutMs: 60_000 },
  );
  q.start();
  q.add("stuck");
  q.add("retry-later", { afterMs: 60_000 });
  await until(() => q.inFlight === 1);
  assert.equal(q.longestRunningProcessorSeconds() >= 0, true);
  assert.deepEqual(await q.shutdown({ timeoutMs: 20 }), { unfinished: ["stuck"] });
  assert.ok(signal?.aborted);
  assert.equal((signal.reason as Error).name, "AbortError");
  assert.equal(activeTimers(), baseline);
});

test("an idle queue holds no timers, and shutdown before start resolves at once", async () => {
  const baseline = activeTimers();
  const q = new WorkQueue(async () => done, { name: "idle", timeoutMs: 1000 });
  q.add("delayed", { afterMs: 60_000 });
  assert.equal(activeTimers(), baseline, "no timer before start");
  q.start();
  assert.equal(activeTimers(), baseline + 1);
  q.add("delayed"); // now immediate: its timer is no longer needed
  await until(() => q.depth === 0 && q.inFlight === 0);
  assert.equal(activeTimers(), baseline, "no timer once idle");
  assert.equal(q.unfinishedWorkSeconds(), 0);
  assert.equal(q.longestRunningProcessorSeconds(), 0);
  await q.shutdown();
  const never = new WorkQueue(async () => done, { name: "never" });
  never.add("x");
  assert.deepEqual(await never.shutdown(), { unfinished: [] });
});

test("work in flight is measured", async () => {
  const release = deferred();
  const q = new WorkQueue(
    async () => {
      await release.promise;
      return done;
    },
    { name: "measure", maxConcurrency: 2 },
  );
  q.start();
  q.add("a");
  await sleep(10);
  q.add("b");
  await until(() => q.inFlight === 2);
  await sleep(5);
  const longest = q.longestRunningProcessorSeconds();
  const total = q.unfinishedWorkSeconds();
  assert.ok(longest >= 0.014 && longest < 10, `longest ${longest}`);
  assert.ok(total > longest && total < 2 * longest, `total ${total}, longest ${longest}`);
  release.resolve();
  await q.shutdown();
});

test("a throwing observer cannot break the queue", async (t) => {
  // Recorded instead of printed, to keep the test output clean.
  const emitWarning = t.mock.method(process, "emitWarning", () => {});
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      runs++;
      return done;
    },
    {
      name: "bad-observer",
      observer: {
        added: () => {
          throw new Error("metrics broke");
        },
        finished: () => {
          throw new Error("metrics broke again");
        },
      },
    },
  );
  q.start();
  q.add("k");
  q.add("j");
  await until(() => runs === 2 && q.inFlight === 0);
  const messages = emitWarning.mock.calls.map((c) => String(c.arguments[0]));
  assert.equal(messages.filter((m) => m.includes("metrics broke again")).length, 2);
  assert.equal(messages.filter((m) => m.includes("metrics broke")).length, 4);
  await q.shutdown();
});

test("options are checked", () => {
  const handler = async () => done;
  assert.throws(() => new WorkQueue(handler, { name: "x", maxConcurrency: 0 }), RangeError);
  assert.throws(() => new WorkQueue(handler, { name: "x", maxConcurrency: 1.5 }), RangeError);
  assert.throws(() => new WorkQueue(handler, { name: "x", timeoutMs: 0 }), RangeError);
  assert.throws(() => new WorkQueue(handler, { name: "x", backoff: { baseMs: 10, maxMs: 1 } }), RangeError);
  const q = new WorkQueue(handler, { name: "x" });
  assert.throws(() => q.add("k", { priority: Number.NaN }), RangeError);
  assert.throws(() => q.add("k", { afterMs: Number.NaN }), RangeError);
});

test("50,000 distinct keys are each processed exactly once", async () => {
  const runs = new Map<string, number>();
  const { log, observer } = recorder();
  const q = new WorkQueue(
    async (key) => {
      runs.set(key, (runs.get(key) ?? 0) + 1);
      return done;
    },
    { name: "scale", maxConcurrency: 8, observer },
  );
  const n = 50_000;
  for (let i = 0; i < n; i++) q.add(`ns/obj-${i}`, { priority: (i % 3) - 1 });
  // Half of them again: merged into the waiting entries.
  for (let i = 0; i < n; i += 2) q.add(`ns/obj-${i}`);
  assert.equal(q.depth, n);
  q.start();
  await until(() => log.finished.length === n && q.inFlight === 0, 10_000);
  assert.equal(runs.size, n);
  assert.ok([...runs.values()].every((c) => c === 1));
  assert.equal(q.depth, 0);
  assert.equal(log.depths.at(-1), 0);
  await q.shutdown();
});

test("a failure with a Retry-After is retried no sooner than it says, whatever the backoff", async () => {
  const starts: number[] = [];
  const q = new WorkQueue(
    async () => {
      starts.push(performance.now());
      if (starts.length === 1) throw Object.assign(new Error("throttled"), { retryAfterSeconds: 0.3 });
      return done;
    },
    { name: "retry-after", backoff: { baseMs: 1 } },
  );
  q.start();
  q.add("k");
  await until(() => starts.length === 2, 3_000);
  assert.ok(
    (starts[1] as number) - (starts[0] as number) >= 295,
    `retried after ${(starts[1] as number) - (starts[0] as number)} ms`,
  );
  await q.shutdown();
});

test("retries of all keys share a token bucket: a burst goes at once, the rest at its rate", async () => {
  const firstRun = new Map<string, number>();
  const retries: number[] = [];
  const q = new WorkQueue(
    async (key) => {
      if (!firstRun.has(key)) {
        firstRun.set(key, performance.now());
        return { kind: "error", error: new Error("fail once") };
      }
      retries.push(performance.now());
      return done;
    },
    { name: "bucket", maxConcurrency: 6, backoff: { baseMs: 1, jitter: 0 }, retryRateLimit: { qps: 20, burst: 2 } },
  );
  const started = performance.now();
  q.start();
  for (const k of ["a", "b", "c", "d", "e", "f"]) q.add(k);
  await until(() => retries.length === 6, 3_000);
  retries.sort((x, y) => x - y);
  // Two retries at once, then four more at 50 ms apart: the last no sooner than ~200 ms in.
  assert.ok((retries[5] as number) - started >= 190, `last retry after ${(retries[5] as number) - started} ms`);
  assert.ok((retries[1] as number) - started < 150, "the burst was not held back");
  await q.shutdown();
});

test("the retry rate limit can be turned off", async () => {
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      runs++;
      return runs <= 150 ? { kind: "error", error: new Error("again") } : done;
    },
    { name: "unlimited", backoff: { baseMs: 0, jitter: 0 }, retryRateLimit: false },
  );
  q.start();
  q.add("k");
  // 150 retries: over the default burst of 100, yet not spaced at 10 per second.
  await until(() => runs > 150, 2_000);
  await q.shutdown();
});
