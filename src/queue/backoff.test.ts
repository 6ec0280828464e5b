import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "./backoff.ts";

test("backoff doubles from 5 ms per consecutive failure and is capped at 1000 s", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n)),
    [5, 10, 20, 40, 80, 160],
  );
  assert.equal(backoffDelay(0), 0, "no failure, no delay");
  assert.equal(backoffDelay(18), 655_360);
  assert.equal(backoffDelay(19), 1_000_000, "capped at maxMs");
  assert.equal(backoffDelay(10_000), 1_000_000, "2^n overflowing to Infinity still yields the cap");
});

test("backoff honours baseMs and maxMs, and rejects nonsense", () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelay(n, { baseMs: 100, maxMs: 300 })),
    [100, 200, 300, 300],
  );
  assert.throws(() => backoffDelay(1, { baseMs: -1 }), RangeError);
  assert.throws(() => backoffDelay(1, { baseMs: 10, maxMs: 5 }), RangeError);
});

test("jitter lengthens a delay by up to its fraction, spread over that range", async () => {
  const { jittered } = await import("./backoff.ts");
  assert.equal(
    jittered(100, 0.1, () => 0),
    100,
  );
  assert.equal(
    jittered(100, 0.1, () => 0.5),
    105,
  );
  assert.ok(jittered(100, 0.1, () => 0.999_999) < 110);
  assert.equal(
    jittered(100, 0, () => 0.9),
    100,
    "no jitter asked, none added",
  );
  const samples = Array.from({ length: 200 }, () => jittered(1_000, 0.1));
  assert.ok(samples.every((d) => d >= 1_000 && d < 1_100));
  assert.ok(new Set(samples).size > 150, "spread out, not one value");
});

test("retryAfterMs reads a throttled error's Retry-After, in ms; other errors have none", async () => {
  const { retryAfterMs } = await import("./backoff.ts");
  assert.equal(retryAfterMs(Object.assign(new Error("429"), { retryAfterSeconds: 2 })), 2_000);
  assert.equal(retryAfterMs(Object.assign(new Error("503"), { retryAfterSeconds: undefined })), 0);
  assert.equal(retryAfterMs(Object.assign(new Error("odd"), { retryAfterSeconds: -1 })), 0);
  assert.equal(retryAfterMs(new Error("plain")), 0);
  assert.equal(retryAfterMs("a string"), 0);
  assert.equal(retryAfterMs(undefined), 0);
});
