/** Per-key exponential backoff after consecutive failures, as controller-runtime's item rate limiter. */
export interface BackoffOptions {
  /** Delay after the first failure; doubles with each further consecutive failure. Default 5 ms. */
  baseMs?: number;
  /** Upper bound of the delay. Default 1,000,000 ms (1000 s). */
  maxMs?: number;
}

/** Default delay after a key's first failure. */
export const DEFAULT_BACKOFF_BASE_MS = 5;
/** Default cap of the delay. */
export const DEFAULT_BACKOFF_MAX_MS = 1_000_000;

/** Backoff options with defaults applied and values checked. */
export function resolveBackoff(options: BackoffOptions = {}): Required<BackoffOptions> {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  if (!(baseMs >= 0 && Number.isFinite(baseMs))) throw new RangeError(`backoff baseMs must be >= 0, got ${baseMs}`);
  if (!(maxMs >= baseMs)) throw new RangeError(`backoff maxMs must be >= baseMs (${baseMs}), got ${maxMs}`);
  return { baseMs, maxMs };
}

/**
 * The delay before retrying a key that has failed `failures` times in a row: baseMs * 2^(failures - 1), capped at
 * maxMs; 0 when it has not failed. Pure, so that the growth can be tested without a clock.
 */
export function backoffDelay(failures: number, options?: BackoffOptions): number {
  const { baseMs, maxMs } = resolveBackoff(options);
  if (!(failures >= 1)) return 0;
  // 2 ** n overflows to Infinity for large n, which the cap absorbs.
  return Math.min(maxMs, baseMs * 2 ** (failures - 1));
}
