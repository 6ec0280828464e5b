/**
 * A client-side limit on requests a second (client-go's QPS and Burst): a token bucket that hands out
 * reservations, so that waiters are served in the order they came. (The work queue has its own bucket; the
 * layering keeps the client from importing it.)
 */
export class RequestRateLimiter {
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private at = performance.now();

  constructor(qps: number, burst: number) {
    if (!(qps > 0 && Number.isFinite(qps))) throw new RangeError(`qps must be > 0, got ${qps}`);
    if (!(burst >= 1)) throw new RangeError(`burst must be >= 1, got ${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
  }

  /** Resolves when this request may go; rejects with the signal's reason if it aborts first. */
  wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.qps) / 1000);
    this.at = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return Promise.resolve();
    const ms = (-this.tokens * 1000) / this.qps;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        // The reservation is given back, so that an aborted waiter does not slow the others.
        this.tokens += 1;
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
