import { createHash } from "node:crypto";
import type { PodView } from "./pods.ts";

/**
 * Rollouts one pod at a time. The StatefulSet's update strategy is OnDelete: changing its template restarts
 * nothing, and the operator deletes pods in its own order — read replicas first (highest ordinal first), the
 * primary last — each only once every other pod is ready. Pure planning here; the reconcile deletes the pod.
 */

/** What a pod's template is made from; a change of any of them rolls the pods. */
export interface RevisionInputs {
  version: string;
  podAnnotations?: Record<string, string> | undefined;
}

/** A short, stable hash of the inputs (keys sorted, so that their order does not matter). */
export function revisionHash(inputs: RevisionInputs): string {
  const annotations = Object.entries(inputs.podAnnotations ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return createHash("sha256")
    .update(JSON.stringify([inputs.version, annotations]))
    .digest("hex")
    .slice(0, 10);
}

/** The order pods are restarted in: read replicas from the highest ordinal down, then the primary. */
export function restartOrder(pods: readonly PodView[], primary: string): PodView[] {
  const replicas = pods.filter((p) => p.name !== primary).sort((a, b) => b.ordinal - a.ordinal);
  const first = pods.find((p) => p.name === primary);
  return first ? [...replicas, first] : replicas;
}

export type NextStep =
  /** Every pod runs `revision`. */
  | { kind: "done" }
  /** Wait until every pod is ready before taking the next one down. */
  | { kind: "wait"; reason: string }
  | { kind: "restart"; pod: PodView };

/**
 * The next pod to restart onto `revision`. Rolling forward, a pod is taken down only when every pod is ready.
 * Rolling back, pods that are not ready go first and without that gate (they are the ones the failed revision
 * broke), then the others as forward.
 */
export function nextRestart(
  pods: readonly PodView[],
  primary: string,
  revision: string,
  wanted: number,
  direction: "forward" | "back",
): NextStep {
  const stale = restartOrder(pods, primary).filter((p) => p.revision !== revision && !p.terminating);
  if (stale.length === 0 && pods.length >= wanted && pods.every((p) => !p.terminating)) return { kind: "done" };
  if (direction === "back") {
    const broken = stale.find((p) => !p.ready);
    if (broken) return { kind: "restart", pod: broken };
  }
  const unready = pods.filter((p) => !p.ready);
  if (unready.length > 0 || pods.length < wanted)
    return {
      kind: "wait",
      reason: unready.length
        ? `waiting for ${unready.map((p) => p.name).join(", ")} to be ready`
        : `waiting for ${wanted - pods.length} pod(s) to be created`,
    };
  const next = stale[0];
  return next ? { kind: "restart", pod: next } : { kind: "done" };
}
