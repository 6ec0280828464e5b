/**
 * The load generator: bounded loops that create Benches as fast as the plane accepts them, and paced updates
 * of `spec.value` (W3, W5). Every request is recorded in the harness's ledger.
 */
import { ApiError, type Client } from "../src/client/index.ts";
import { Bench, benchName, newBench } from "./crd.ts";
import type { Ledger } from "./metrics.ts";
import type { Tracker } from "./tracker.ts";

export interface LoopOptions {
  /** Requests in flight at most. */
  concurrency: number;
  /** The loop fails when it has not finished by then. */
  timeoutMs: number;
  /** Names the loop in progress lines and errors. */
  label: string;
  /** Progress lines (every `progressMs`). */
  log: (line: string) => void;
  progressMs?: number;
}

/**
 * Calls `fn(0) ... fn(count - 1)` with at most `concurrency` calls in flight; resolves with the wall time in
 * seconds. Bounded in count and in time: the first error, or the deadline, stops it.
 */
export async function bounded(count: number, fn: (i: number) => Promise<unknown>, opts: LoopOptions): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + opts.timeoutMs;
  let next = 0;
  let done = 0;
  let failed: Error | undefined;
  const progress = setInterval(() => opts.log(`${opts.label}: ${done}/${count}`), opts.progressMs ?? 5_000);
  const worker = async () => {
    while (next < count && !failed) {
      if (Date.now() > deadline) {
        failed = new Error(`${opts.label}: not finished after ${opts.timeoutMs / 1000} s (${done}/${count})`);
        return;
      }
      const i = next++;
      try {
        await fn(i);
        done++;
      } catch (err) {
        failed ??= new Error(`${opts.label}: item ${i} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, count) }, worker));
  } finally {
    clearInterval(progress);
  }
  if (failed) throw failed;
  return (performance.now() - started) / 1000;
}

/** Creates Benches `first ... first + count - 1` in `namespace`; resolves with the wall time in seconds. */
export function createBenches(
  client: Client,
  ledger: Ledger,
  namespace: string,
  range: { first: number; count: number },
  opts: Omit<LoopOptions, "label">,
): Promise<number> {
  return bounded(
    range.count,
    async (i) => {
      try {
        await client.create(Bench, newBench(namespace, range.first + i));
        ledger.record("POST", "benches", 201);
      } catch (err) {
        if (err instanceof ApiError) ledger.record("POST", "benches", err.code);
        throw err;
      }
    },
    { ...opts, label: `created in ${namespace}` },
  );
}

/** The annotation in which the load generator records when it sent a value (ISO time, for people reading it). */
export const sentAtAnnotation = "bench.converge.dev/sent-at";

export interface ChurnResult {
  /** Updates per second asked for, and reached. */
  targetRate: number;
  achievedRate: number;
  sent: number;
  /** Updates the apiserver refused or that failed in transit (while it restarts, in W5). */
  failed: number;
  seconds: number;
  /** performance.now() of the start and end. */
  startedAt: number;
  endedAt: number;
}

/**
 * Updates `spec.value` of Benches `0 ... n - 1` (in a shuffled order, cycling) at `rate` per second for `seconds`,
 * with a unique value each time, and tells the tracker what it sent and when. At most `inFlight` updates are
 * outstanding: when the plane cannot keep up, the rate reached falls short of the rate asked for.
 */
export async function churn(
  client: Client,
  ledger: Ledger,
  tracker: Tracker,
  opts: {
    n: number;
    rate: number;
    /** How long to run; `until` can end it earlier. */
    seconds: number;
    inFlight?: number;
    seq: { next: number };
    until?: AbortSignal;
  },
): Promise<ChurnResult> {
  const order = shuffled(opts.n);
  const inFlight = opts.inFlight ?? 64;
  const startedAt = performance.now();
  const total = Math.max(1, Math.round(opts.rate * opts.seconds));
  let sent = 0;
  let lastSentAt = startedAt;
  let failed = 0;
  let outstanding = 0;
  let wake: (() => void) | undefined;
  for (let i = 0; i < total; i++) {
    const due = startedAt + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (opts.until?.aborted) break;
    while (outstanding >= inFlight) await new Promise<void>((r) => (wake = r));
    const name = benchName(order[i % order.length] as number);
    const sentAt = performance.now();
    const value = `u${opts.seq.next++}`;
    tracker.expect(name, value, sentAt);
    outstanding++;
    sent++;
    lastSentAt = sentAt;
    const patch = {
      metadata: { annotations: { [sentAtAnnotation]: new Date().toISOString() } },
      spec: { value },
    };
    client
      .patch(Bench, { namespace: tracker.namespace, name }, "merge", patch)
      .then(
        () => {
          ledger.record("PATCH", "benches", 200);
          tracker.acked(name, value);
        },
        (err: unknown) => {
          failed++;
          tracker.forget(name, value);
          if (err instanceof ApiError) ledger.record("PATCH", "benches", err.code);
        },
      )
      .finally(() => {
        outstanding--;
        wake?.();
        wake = undefined;
      });
  }
  while (outstanding > 0) await new Promise<void>((r) => (wake = r));
  const endedAt = performance.now();
  const seconds = (endedAt - startedAt) / 1000;
  // n sends span n - 1 intervals: the rate reached is measured over those.
  const achievedRate = sent > 1 ? ((sent - 1) * 1000) / (lastSentAt - startedAt) : opts.rate;
  return { targetRate: opts.rate, achievedRate, sent, failed, seconds, startedAt, endedAt };
}

/** 0 ... n - 1 in a random order. */
function shuffled(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}
