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
