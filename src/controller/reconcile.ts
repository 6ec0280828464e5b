import type { Registry } from "prom-client";
import type { Cache } from "../cache/cache.ts";
import type { KubeClient } from "../client/api.ts";
import type { KubeObject } from "../types/resource.ts";
import type { EventRecorder } from "./events.ts";
import type { Logger } from "./logger.ts";

/** What a reconcile is asked to converge: one object, by key. Never an event: reconciles are level-based. */
export interface Request {
  /** `namespace/name`, or `name` for cluster-scoped kinds. */
  key: string;
  namespace: string | undefined;
  name: string;
}

export interface ReconcileContext<T extends KubeObject> {
  request: Request;
  /** The primary object as the cache has it now (undefined once it is gone). */
  readonly object: T | undefined;
  client: KubeClient;
  /** Reads from the shared informers; they see this operator's own writes at once. */
  cache: Cache;
  /** Carries `controller`, `namespace`, `name` and `reconcileID`. */
  log: Logger;
  events: EventRecorder;
  /** The manager's metrics registry, for the controller's own metrics (`metricCounter(ctx.metrics, ...)`). */
  metrics: Registry;
  /** Aborted when the reconcile times out or the manager shuts down. */
  signal: AbortSignal;
  reconcileId: string;
}

/** What a reconcile returns: nothing (converged) or a request to run again later. Throw to report an error. */
export type ReconcileOutcome = undefined | { requeueAfterMs: number };

export type Reconciler<T extends KubeObject> = (
  request: Request,
  ctx: ReconcileContext<T>,
) => Promise<ReconcileOutcome | undefined> | ReconcileOutcome | undefined;

/** Run the key again after `ms` (e.g. to poll something outside the cluster). */
export function requeueAfter(ms: number): ReconcileOutcome {
  return { requeueAfterMs: ms };
}

/** An error that retrying cannot fix (bad input the user must change): reported, counted, never retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

export function parseKey(key: string): Request {
  const slash = key.indexOf("/");
  return slash < 0
    ? { key, namespace: undefined, name: key }
    : { key, namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
