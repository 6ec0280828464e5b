/**
 * Read replicas from load, with hysteresis: a recommendation inside the tolerance band around the target changes
 * nothing, and one outside it must hold for a window (short to scale up, long to scale down) before it is acted
 * on. Within a window the recommendation kept is the most conservative seen (the smallest when going up, the
 * largest when going down), as the HorizontalPodAutoscaler's stabilisation does; a recommendation that turns the
 * other way starts the window again. The pending change lives in the status, so a restart does not reset it.
 */

export interface AutoscalePolicy {
  min: number;
  max: number;
  targetLoadPerReplica: number;
  tolerancePercent: number;
  scaleUpAfterMs: number;
  scaleDownAfterMs: number;
}

export interface Pending {
  readReplicas: number;
  since: Date;
}

export interface AutoscaleDecision {
  /** Read replicas to run now. */
  readReplicas: number;
  pending: Pending | undefined;
  /** Mean load of the replicas that reported one. */
  loadPerReplica: number | undefined;
  /** When to look again (the end of a pending window). */
  recheckAfterMs: number | undefined;
}

const clamp = (n: number, min: number, max: number) => Math.min(max, Math.max(min, n));

/** What the load asks for, before any window: `current` inside the tolerance band or without data. */
export function recommend(current: number, loads: readonly number[], policy: AutoscalePolicy): number {
  if (loads.length === 0) return clamp(current, policy.min, policy.max);
  const total = loads.reduce((a, b) => a + b, 0);
  const perReplica = total / loads.length;
  const ratio = perReplica / policy.targetLoadPerReplica;
  if (Math.abs(ratio - 1) * 100 <= policy.tolerancePercent) return clamp(current, policy.min, policy.max);
  return clamp(Math.ceil(total / policy.targetLoadPerReplica), policy.min, policy.max);
}

export function autoscale(
  current: number,
  loads: readonly number[],
  policy: AutoscalePolicy,
  pending: Pending | undefined,
  now: Date,
): AutoscaleDecision {
  const loadPerReplica = loads.length ? Math.round(loads.reduce((a, b) => a + b, 0) / loads.length) : undefined;
  // Bounds changed in the spec apply at once: they are the user's decision, not the load's.
  const bounded = clamp(current, policy.min, policy.max);
  const wanted = recommend(bounded, loads, policy);
  if (wanted === bounded)
    return { readReplicas: bounded, pending: undefined, loadPerReplica, recheckAfterMs: undefined };
  const up = wanted > bounded;
  const sameWay = pending !== undefined && pending.readReplicas > bounded === up && pending.readReplicas !== bounded;
  const next: Pending = sameWay
    ? {
        readReplicas: up ? Math.min(pending.readReplicas, wanted) : Math.max(pending.readReplicas, wanted),
        since: pending.since,
      }
    : { readReplicas: wanted, since: now };
  const window = up ? policy.scaleUpAfterMs : policy.scaleDownAfterMs;
  const left = next.since.getTime() + window - now.getTime();
  if (left <= 0)
    return { readReplicas: next.readReplicas, pending: undefined, loadPerReplica, recheckAfterMs: undefined };
  return { readReplicas: bounded, pending: next, loadPerReplica, recheckAfterMs: left };
}
