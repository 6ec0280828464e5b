import assert from "node:assert/strict";
import { test } from "node:test";
import { RequestRateLimiter } from "./rate-limit.ts";

test("the request rate limiter lets a burst through, then one request per 1/qps", async () => {
  const limiter = new RequestRateLimiter(20, 2);
  const started = performance.now();
  const at: number[] = [];
  await Promise.all([0, 1, 2, 3, 4].map(() => limiter.wait().then(() => at.push(performance.now() - started))));
  at.sort((a, b) => a - b);
  assert.ok((at[1] as number) < 30, "the burst goes at once");
  assert.ok((at[4] as number) >= 140, `the fifth waits three intervals of 50 ms, went at ${at[4]}`);
});

test("an aborted wait rejects with the signal's reason and gives its turn back", async () => {
  // 2 per second: a turn given back leaves a wait of at most 500 ms, a turn kept one of about 1,000 ms, a margin
  // that a busy machine's timers do not eat.
  const limiter = new RequestRateLimiter(2, 1);
  await limiter.wait();
  const controller = new AbortController();
  const waiting = limiter.wait(controller.signal);
  controller.abort(new Error("gave up"));
  await assert.rejects(waiting, /gave up/);
  const started = performance.now();
  await limiter.wait();
  assert.ok(performance.now() - started < 850, "the next one did not wait for the aborted one's turn as well");
});
