/** Read replicas from load, within the spec's bounds (the decision is autoscale.ts's). */
import { autoscale } from "./autoscale.ts";
import { decideFailover } from "./failover.ts";
import { type Context, iso, transition, type View } from "./step.ts";

/**
 * Read replicas from load (autoscale.ts), within the spec's bounds. Scaling down never removes the primary: when
 * the primary would be among the pods removed, a switchover to a remaining replica comes first.
 */
export async function stepScaling(view: View, ctx: Context, timers: number[]): Promise<boolean> {
  const status = ctx.object.status;
  if (!status?.primary) return false;
  const current = status.readReplicas ?? view.settings.readReplicas.min;
  const policy = view.settings.autoscaling;
  const { min, max } = view.settings.readReplicas;
  const replicas = view.pods.filter((p) => p.name !== status.primary && p.ready);
  // With no read replica yet, the primary's load is the read load.
  const loads = (replicas.length ? replicas : view.pods.filter((p) => p.name === status.primary))
    .map((p) => p.load)
    .filter((l): l is number => l !== undefined);
  const pending =
    status.autoscaling?.pendingReadReplicas !== undefined && status.autoscaling.pendingSince
      ? { readReplicas: status.autoscaling.pendingReadReplicas, since: new Date(status.autoscaling.pendingSince) }
      : undefined;
  const decision = policy
    ? autoscale(current, loads, { min, max, ...policy }, pending, view.now)
    : {
        // Without autoscaling the spec's minimum is the number (max is min then).
        readReplicas: min,
        pending: undefined,
        loadPerReplica: undefined,
        recheckAfterMs: undefined,
      };
  if (decision.recheckAfterMs !== undefined) timers.push(decision.recheckAfterMs);

  const primaryOrdinal = view.pods.find((p) => p.name === status.primary)?.ordinal ?? 0;
  if (decision.readReplicas + 1 <= primaryOrdinal) {
    return decideFailover(
      view,
      ctx,
      status.primary,
      "Switchover",
      `scaling to ${decision.readReplicas} read replicas removes ${status.primary}`,
      decision.readReplicas + 1,
    );
  }
  const pendingChanged =
    status.autoscaling?.pendingReadReplicas !== decision.pending?.readReplicas ||
    (status.autoscaling?.pendingSince ?? undefined) !== (decision.pending ? iso(decision.pending.since) : undefined);
  const loadChanged = status.autoscaling?.loadPerReplica !== decision.loadPerReplica;
  if (decision.readReplicas === current && !pendingChanged && !loadChanged) return false;
  await transition(view, ctx, (s) => {
    s.readReplicas = decision.readReplicas;
    s.autoscaling = {
      ...(decision.loadPerReplica !== undefined ? { loadPerReplica: decision.loadPerReplica } : {}),
      ...(decision.pending
        ? { pendingReadReplicas: decision.pending.readReplicas, pendingSince: iso(decision.pending.since) }
        : {}),
      ...(decision.readReplicas !== current
        ? { lastScaleTime: iso(view.now) }
        : s.autoscaling?.lastScaleTime
          ? { lastScaleTime: s.autoscaling.lastScaleTime }
          : {}),
    };
  });
  if (decision.readReplicas !== current) {
    const up = decision.readReplicas > current;
    ctx.event(
      "Normal",
      up ? "ScaledUp" : "ScaledDown",
      `read replicas ${current} → ${decision.readReplicas}${decision.loadPerReplica !== undefined ? ` (load ${decision.loadPerReplica}/replica)` : ""}`,
      { action: "Scale" },
    );
  }
  return true;
}
