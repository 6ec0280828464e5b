/**
 * The work queue layer: a keyed, deduplicating priority queue with per-key backoff that also runs the workers.
 * It depends on nothing but Node built-ins.
 */
export {
  type BackoffOptions,
  backoffDelay,
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_JITTER,
  DEFAULT_BACKOFF_MAX_MS,
  jittered,
  retryAfterMs,
} from "./backoff.ts";
export type { QueueObserver, ReconcileResultLabel, RunDetail } from "./observer.ts";
export { DEFAULT_RETRY_RATE_LIMIT, type RateLimit, TokenBucket } from "./rate-limit.ts";
export type { ReconcileResult } from "./result.ts";
export {
  type AddOptions,
  type ReconcileHandler,
  type ShutdownOptions,
  type ShutdownResult,
  WorkQueue,
  type WorkQueueOptions,
} from "./work-queue.ts";
