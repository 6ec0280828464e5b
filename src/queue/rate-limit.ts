/** Rate of a token bucket: `qps` tokens a second, at most `burst` saved up. */
export interface RateLimit {
  qps: number;
  burst: number;
}

/** Default limit of a work queue's retries over all its keys, as controller-runtime's (10 qps, burst 100). */
export const DEFAULT_RETRY_RATE_LIMIT: RateLimit = { qps: 10, burst: 100 };

/**
 * A token bucket that hands out reservations rather than refusals, as golang.org/x/time/rate's Reserve: each
 * call takes a token, going into debt when there is none, and says how long the caller must wait for it.
 * Pure given the times passed in, so that it can be tested without a clock.
 */
export class TokenBucket {
  readonly limit: RateLimit;
  private tokens: number;
  private at: number;

  constructor(limit: RateLimit, now = performance.now()) {
    if (!(limit.qps > 0 && Number.isFinite(limit.qps))) throw new RangeError(`qps must be > 0, got ${limit.qps}`);
    if (!(limit.burst >= 1)) throw new RangeError(`burst must be >= 1, got ${limit.burst}`);
    this.limit = limit;
    this.tokens = limit.burst;
    this.at = now;
  }

  /** Takes a token; resolves to the ms to wait until it is due (0 when one was saved up). */
  reserve(now = performance.now()): number {
    if (now > this.at) {
      this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.at) * this.limit.qps) / 1000);
      this.at = now;
    }
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.limit.qps;
  }
}
