/**
 * Result label of a finished run, named as controller-runtime's `controller_runtime_reconcile_total{result}`.
 * `requeue` is never reported by this queue; it stays in the union so that metric labels keep the same set.
 */
export type ReconcileResultLabel = "success" | "error" | "requeue" | "requeue_after" | "terminal_error";

/** How a run ended, beyond its result label. */
export interface RunDetail {
  /** The handler threw or its promise rejected (the run is reported as `error`). */
  threw: boolean;
  /** The run outlived `timeoutMs` (the run is reported as `error`). */
  timedOut: boolean;
}

/**
 * Hooks for metrics, all optional; they map onto controller-runtime's workqueue_* and controller_runtime_reconcile_*
 * metrics. Hooks are called synchronously from the queue's bookkeeping and should be cheap. One that throws is
 * reported as a process warning and otherwise ignored, so metrics can never break the queue.
 */
export interface QueueObserver {
  /** Every accepted add, whether or not it was merged with a waiting entry of the same key (workqueue_adds_total). */
  added?(key: string): void;
  /** The number of waiting keys, whenever it changes (workqueue_depth). */
  depth?(depth: number): void;
  /** A backoff re-add after a failed run (workqueue_retries_total). */
  retried?(key: string): void;
  /** Time from the key being ready to its run starting (workqueue_queue_duration_seconds). */
  queued?(key: string, seconds: number): void;
  /** A run ended: its result, how long it took, and why it failed if it did (reconcile total/errors/time). */
  finished?(key: string, result: ReconcileResultLabel, seconds: number, detail: RunDetail): void;
  /** The number of runs in flight, whenever it changes (controller_runtime_active_workers). */
  activeWorkers?(n: number): void;
}
