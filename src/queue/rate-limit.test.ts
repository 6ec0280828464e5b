import assert from "node:assert/strict";
import { test } from "node:test";
import { TokenBucket } from "./rate-limit.ts";

test("a token bucket lets a burst through at once, then spaces reservations 1/qps apart", () => {
  const bucket = new TokenBucket({ qps: 10, burst: 3 }, 0);
  // Three at once, then 100 ms, 200 ms, ... later.
  assert.deepEqual(
    [0, 0, 0, 0, 0, 0].map((t) => Math.round(bucket.reserve(t))),
    [0, 0, 0, 100, 200, 300],
  );
});

test("a token bucket refills at qps up to its burst while idle", () => {
  const bucket = new TokenBucket({ qps: 10, burst: 2 }, 0);
  bucket.reserve(0);
  bucket.reserve(0);
  assert.equal(Math.round(bucket.reserve(0)), 100, "empty: wait for the next token");
  // 10 s idle refills two tokens (the burst), not 100.
  assert.deepEqual(
    [10_000, 10_000, 10_000].map((t) => Math.round(bucket.reserve(t))),
    [0, 0, 100],
  );
});

test("a token bucket rejects nonsense", () => {
  assert.throws(() => new TokenBucket({ qps: 0, burst: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ qps: 1, burst: 0 }), RangeError);
});
