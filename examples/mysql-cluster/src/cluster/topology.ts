import type { PodView } from "./pods.ts";

/**
 * Who is primary, and when to replace it: pure decisions over the pods as observed, so that they are tested
 * without a cluster (test/unit.test.ts) and the reconcile only carries them out.
 */

export type PrimaryHealth =
  | { state: "healthy" }
  /** Restarted on purpose by a rollout: not a failure while the rollout waits for it. */
  | { state: "restarting" }
  /** Not ready, but not for long enough to fail over: look again at `recheckAfterMs`. */
  | { state: "unready"; recheckAfterMs: number }
  | { state: "failed"; reason: string };

export interface PrimaryRecord {
  pod: string;
  uid: string | undefined;
}

/**
 * The primary's health. A pod gone, replaced (another uid: it was deleted and the StatefulSet made a new, empty
 * one), being deleted or failed has lost its server at once; one merely unready is given `unreadyMs` (a probe that
 * failed once is no reason to promote).
 */
export function primaryHealth(
  primary: PrimaryRecord,
  pods: readonly PodView[],
  now: Date,
  unreadyMs: number,
  restartingOnPurpose: string | undefined,
): PrimaryHealth {
  if (restartingOnPurpose === primary.pod) return { state: "restarting" };
  const pod = pods.find((p) => p.name === primary.pod);
  if (!pod) return { state: "failed", reason: `primary pod ${primary.pod} is gone` };
  if (primary.uid && pod.uid !== primary.uid)
    return { state: "failed", reason: `primary pod ${pod.name} was replaced` };
  if (pod.terminating) return { state: "failed", reason: `primary pod ${pod.name} is being deleted` };
  if (pod.failed) return { state: "failed", reason: `primary pod ${pod.name} failed` };
  if (pod.ready) return { state: "healthy" };
  const since = pod.readyChangedAt ? Date.parse(pod.readyChangedAt) : now.getTime();
  const left = since + unreadyMs - now.getTime();
  if (left > 0) return { state: "unready", recheckAfterMs: left };
  return { state: "failed", reason: `primary pod ${pod.name} not ready for ${Math.round(unreadyMs / 1000)}s` };
}

/**
 * The replica to promote: ready, not being deleted, not the old primary, below `belowOrdinal` when given (a
 * switchover before scaling down must not pick a pod about to go); the least replication lag first (a replica
 * that did not report its lag comes after those that did), then the lowest ordinal.
 */
export function chooseCandidate(
  pods: readonly PodView[],
  oldPrimary: string,
  belowOrdinal = Number.POSITIVE_INFINITY,
): PodView | undefined {
  const lag = (p: PodView) => p.lagSeconds ?? Number.POSITIVE_INFINITY;
  return pods
    .filter((p) => p.name !== oldPrimary && p.ready && !p.terminating && p.ordinal < belowOrdinal)
    .sort((a, b) => lag(a) - lag(b) || a.ordinal - b.ordinal)[0];
}

/** The role each pod should carry: the primary's, and replica for every other. */
export function roleOf(pod: PodView, primary: string): "primary" | "replica" {
  return pod.name === primary ? "primary" : "replica";
}
