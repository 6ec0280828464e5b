/** What a reconcile run asks of the queue for its key. */
export type ReconcileResult =
  /** Converged: nothing to do until the key is added again. Resets the key's failure count. */
  | { kind: "done" }
  /** Run again after `ms` (periodic resync, waiting on something external). Resets the key's failure count. */
  | { kind: "requeueAfter"; ms: number }
  /** Failed: retried with per-key exponential backoff. */
  | { kind: "error"; error: unknown }
  /** Failed in a way retrying cannot fix: not retried, and the key's failure count is reset. */
  | { kind: "terminal"; error: unknown };
