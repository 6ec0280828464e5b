import type { Request } from "./context.ts";

/** What a reconcile returns: nothing (converged) or a request to run again later. Throw to report an error. */
export type ReconcileOutcome = undefined | { requeueAfterMs: number };

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
