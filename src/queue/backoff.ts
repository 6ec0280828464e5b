/** Per-key exponential backoff after consecutive failures, as controller-runtime's item rate limiter. */
export interface BackoffOptions {
  /** Delay after the first failure; doubles with each further consecutive failure. Default 5 ms. */
  baseMs?: number;
  /** Upper bound of the delay (before jitter). Default 1,000,000 ms (1000 s). */
  maxMs?: number;
  /**
   * Each delay is lengthened by a random part of up to this fraction of it (default 0.1), so that keys that
   * failed together (an apiserver outage) do not all retry in the same millisecond.
   */
  jitter?: number;
}

/** Default delay after a key's first failure. */
export const DEFAULT_BACKOFF_BASE_MS = 5;
/** Default cap of the delay. */
export const DEFAULT_BACKOFF_MAX_MS = 1_000_000;
/** Default jitter fraction. */
export const DEFAULT_BACKOFF_JITTER = 0.1;

/** Backoff options with defaults applied and values checked. */
export function resolveBackoff(options: BackoffOptions = {}): Required<BackoffOptions> {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const jitter = options.jitter ?? DEFAULT_BACKOFF_JITTER;
  if (!(baseMs >= 0 && Number.isFinite(baseMs))) throw new RangeError(`backoff baseMs must be >= 0, got ${baseMs}`);
  if (!(maxMs >= baseMs)) throw new RangeError(`backoff maxMs must be >= baseMs (${baseMs}), got ${maxMs}`);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`backoff jitter must be in [0, 1], got ${jitter}`);
  return { baseMs, maxMs, jitter };
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

/** `delayMs` lengthened by a random part of up to `jitter` times it. */
export function jittered(delayMs: number, jitter: number, random: () => number = Math.random): number {
  return jitter > 0 ? delayMs * (1 + jitter * random()) : delayMs;
}

/**
 * How long a failure asks to be left alone, in ms: the `retryAfterSeconds` of the error (the client's
 * TooManyRequestsError, and its other ApiErrors that came with Retry-After, such as a 503), else 0. Read by shape
 * rather than by class, so that the queue depends on no client.
 */
export function retryAfterMs(error: unknown): number {
  if (typeof error !== "object" || error === null) return 0;
  const seconds = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof seconds === "number" && seconds > 0 && Number.isFinite(seconds) ? seconds * 1000 : 0;
}
