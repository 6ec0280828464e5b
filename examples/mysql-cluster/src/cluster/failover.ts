/** Who is primary: the first election, promotions (on failure and before a scale-down), and the labels that say so. */
import { corev1, isNotFound } from "converge-sdk";
import { labels, names } from "../names.ts";
import { countFailover } from "./metrics.ts";
import type { PodView } from "./pods.ts";
import { type Context, confirmCurrent, iso, transition, type View } from "./step.ts";
import { chooseCandidate, roleOf } from "./topology.ts";
import { primaryServiceFor, topologyFor } from "./workload.ts";

/** The first primary is pod 0, once it is ready. */
export async function electFirstPrimary(view: View, ctx: Context): Promise<boolean> {
  const n = names(view.cluster.metadata.name);
  const service = ctx.cache.get(corev1.Service, { namespace: view.cluster.metadata.namespace, name: n.primaryService });
  if (service && service.spec?.selector?.[labels.podName] !== n.pod(0)) await confirmCurrent(ctx);
  await ctx.apply(corev1.Service, primaryServiceFor(view.cluster, n.pod(0)));
  const first = view.pods.find((p) => p.ordinal === 0 && p.ready);
  if (!first) return false;
  await transition(view, ctx, (status) => {
    status.primary = first.name;
    status.primaryUID = first.uid;
  });
  ctx.event("Normal", "PrimaryElected", `${first.name} is the primary`, { action: "Elect" });
  return true;
}

/** Records the decision to promote (conditional: one decision however many reconcile at once), then acts on it. */
export async function decideFailover(
  view: View,
  ctx: Context,
  from: string,
  reason: "PrimaryFailed" | "Switchover",
  why: string,
  belowOrdinal?: number,
): Promise<boolean> {
  const candidate = chooseCandidate(view.pods, from, belowOrdinal);
  if (!candidate) {
    ctx.log.info({ why }, "no ready replica to promote");
    return false;
  }
  await transition(view, ctx, (status) => {
    status.failover = { from, to: candidate.name, reason, startedAt: iso(view.now) };
  });
  ctx.event(
    reason === "PrimaryFailed" ? "Warning" : "Normal",
    reason === "PrimaryFailed" ? "FailoverStarted" : "SwitchoverStarted",
    `${why}: promoting ${candidate.name}`,
    { action: "Promote" },
  );
  return true;
}

/**
 * Carries out a recorded promotion; every step is idempotent (labels, the Service's selector, the topology), so
 * running it again after a crash mid-way changes nothing that was done. The promoted pod's role label, the
 * Service's selector and the topology go first; the status closes the failover last.
 */
export async function finishFailover(view: View, ctx: Context, timers: number[]): Promise<boolean> {
  const failover = view.cluster.status?.failover;
  if (!failover) return false;
  const to = view.pods.find((p) => p.name === failover.to);
  if (!to || to.terminating || !to.ready) {
    // The replica chosen went away too: choose again (the decision is replaced, still one promotion).
    const again = chooseCandidate(view.pods, failover.from);
    if (!again) {
      timers.push(1_000);
      return false;
    }
    await transition(view, ctx, (status) => {
      status.failover = { ...failover, to: again.name };
    });
    return true;
  }
  const { namespace, name } = view.cluster.metadata;
  await setRole(ctx, namespace, to, "primary");
  await ctx.apply(corev1.Service, primaryServiceFor(view.cluster, to.name));
  const old = view.pods.find((p) => p.name === failover.from);
  if (old) await setRole(ctx, namespace, old, "replica");
  await applyTopology(view, ctx, to.name);
  await transition(view, ctx, (status) => {
    status.primary = to.name;
    status.primaryUID = to.uid;
    status.failover = undefined;
    status.failovers = [
      ...(status.failovers ?? []),
      { from: failover.from, to: to.name, reason: failover.reason, at: iso(view.now) },
    ].slice(-10);
  });
  countFailover(ctx.metrics, namespace, name, failover.reason);
  ctx.event(
    failover.reason === "PrimaryFailed" ? "Warning" : "Normal",
    "Promoted",
    `${to.name} promoted to primary (${failover.reason}); ${failover.from} rejoins as a replica`,
    { action: "Promote" },
  );
  return true;
}

async function setRole(ctx: Context, namespace: string, pod: PodView, role: "primary" | "replica"): Promise<void> {
  if (pod.role === role) return;
  try {
    await ctx.client.patch(corev1.Pod, { namespace, name: pod.name }, "merge", {
      metadata: { labels: { [labels.role]: role } },
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

async function applyTopology(view: View, ctx: Context, primary: string): Promise<void> {
  const replicas = view.pods.filter((p) => p.name !== primary).map((p) => p.name);
  await ctx.apply(corev1.ConfigMap, topologyFor(view.cluster, primary, replicas));
}

/** Role labels on every pod, the primary Service on the primary, the topology: repaired on every reconcile. */
export async function labelRoles(view: View, ctx: Context): Promise<void> {
  const primary = ctx.object.status?.primary;
  if (!primary) return;
  const { namespace, name } = view.cluster.metadata;
  const service = ctx.cache.get(corev1.Service, { namespace, name: names(name).primaryService });
  const moves =
    service?.spec?.selector?.[labels.podName] !== primary ||
    view.pods.some((p) => !p.terminating && p.role !== roleOf(p, primary));
  if (moves) await confirmCurrent(ctx);
  for (const pod of view.pods) {
    if (!pod.terminating) await setRole(ctx, view.cluster.metadata.namespace, pod, roleOf(pod, primary));
  }
  await ctx.apply(corev1.Service, primaryServiceFor(view.cluster, primary));
  await applyTopology(view, ctx, primary);
}
