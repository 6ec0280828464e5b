/** What a reconcile of the mysqlcluster controller carries from step to step, and how a step is written. */
import type { appsv1, corev1, Live, ObjectContext } from "converge-sdk";
import { type ClusterStatus, MySQLCluster, type Phase } from "../api/cluster.ts";
import type { Settings } from "../api/settings.ts";
import { names } from "../names.ts";
import type { PodView } from "./pods.ts";
import type { RevisionInputs } from "./rollout.ts";
import { setConditions } from "./status.ts";

export type Owned = typeof appsv1.StatefulSet | typeof corev1.Service | typeof corev1.ConfigMap | typeof corev1.Secret;
export type Context = ObjectContext<MySQLCluster, Owned, true>;
export type Cluster = Live<MySQLCluster, true>;

/** What one reconcile saw: the settings, the pods and the clock. */
export interface View {
  cluster: Cluster;
  settings: Settings;
  pods: PodView[];
  now: Date;
  target: RevisionInputs & { hash: string };
  /** The StatefulSet as applied this reconcile (undefined before the first one). */
  sts?: appsv1.StatefulSet;
}

/**
 * A step that changed the status: the reconcile ends there, and the status write's own event runs the next one on
 * the newer object. Each transition of an operation is one conditional status write, taken before the action it
 * records, so that two writers never both take it and a restarted operator finishes it instead of taking it again.
 */
export const stepTaken = undefined;

export const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export const podAnnotationsOf = (inputs: RevisionInputs) =>
  inputs.podAnnotations ? { podAnnotations: inputs.podAnnotations } : {};

/**
 * A change that moves pods or traffic — the StatefulSet's template or size, the role labels, the write Service's
 * selector — is made only from the newest status. A new leader's cache may hold an older one for a moment after
 * its predecessor's last writes, and acting on it would undo a step already taken (point the Service back at the
 * old primary, give new pods the old template). One read from the apiserver, only when such a change is about to
 * be written; when the cache is behind, the reconcile fails and runs again once it caught up.
 */
export async function confirmCurrent(ctx: Context): Promise<void> {
  const { namespace, name, resourceVersion } = ctx.object.metadata;
  const live = await ctx.client.get(MySQLCluster, { namespace, name });
  if (live.metadata?.resourceVersion !== resourceVersion)
    throw new Error(`the cached MySQLCluster ${name} is older than the apiserver's; reconciling the newer one`);
}

/**
 * Writes a step of an operation, with the phase it puts the cluster in, and records the phase change as an Event:
 * every status write goes through here or writeStatus, so every phase change has its Event.
 */
export async function transition(view: View, ctx: Context, mutate: (status: ClusterStatus) => void): Promise<void> {
  const before = ctx.object.status?.phase;
  let after: { phase: Phase; message: string } | undefined;
  await ctx.status((status, conditions) => {
    mutate(status);
    after = phaseNow(status, view);
    status.phase = after.phase;
    status.message = after.message;
    const wanted = 1 + (status.readReplicas ?? view.settings.readReplicas.min);
    const ready = view.pods.filter((p) => p.ready).length;
    const primaryReady = view.pods.find((p) => p.name === status.primary)?.ready === true;
    setConditions(conditions, status, view.target.hash, primaryReady, ready, wanted);
  });
  if (after) phaseEvent(ctx, before, after);
}

export function phaseEvent(ctx: Context, before: Phase | undefined, after: { phase: Phase; message: string }): void {
  if (before === after.phase) return;
  const bad = after.phase === "Degraded" || after.phase === "FailingOver" || after.phase === "RollingBack";
  ctx.event(bad ? "Warning" : "Normal", "PhaseChanged", `${before ?? "New"} → ${after.phase}: ${after.message}`, {
    action: "Reconcile",
  });
}

/** The phase of `status` with the pods and StatefulSet of this reconcile. */
export function phaseNow(status: ClusterStatus, view: View): { phase: Phase; message: string } {
  const wanted = 1 + (status.readReplicas ?? view.settings.readReplicas.min);
  const ready = view.pods.filter((p) => p.ready).length;
  const primaryReady = view.pods.find((p) => p.name === status.primary)?.ready === true;
  return phaseOf(status, view, wanted, ready, primaryReady, view.sts);
}

export function phaseOf(
  status: ClusterStatus,
  view: View,
  wanted: number,
  ready: number,
  primaryReady: boolean,
  sts: appsv1.StatefulSet | undefined,
): { phase: Phase; message: string } {
  if (status.failover)
    return { phase: "FailingOver", message: `promoting ${status.failover.to} (${status.failover.from} lost)` };
  if (status.rollout?.step === "RollingBack")
    return { phase: "RollingBack", message: `rolling back to ${status.revision?.version}: ${status.rollout.reason}` };
  if (status.rollout)
    return {
      phase: "Upgrading",
      message:
        status.rollout.step === "Backup"
          ? `backing up to ${status.rollout.backup} before upgrading to ${status.rollout.version}`
          : `upgrading to ${status.rollout.version}: ${(status.rollout.restarted ?? []).length}/${wanted} pods done`,
    };
  // Creating until every pod was ready once.
  const creating = status.phase === undefined || status.phase === "Creating";
  if (!status.primary || (creating && ready < wanted))
    return { phase: "Creating", message: `${ready}/${wanted} pods ready` };
  const scaling = (sts?.spec?.replicas ?? wanted) !== (sts?.status?.replicas ?? 0) || view.pods.length !== wanted;
  if (scaling && primaryReady) return { phase: "Scaling", message: `${view.pods.length} → ${wanted} pods` };
  if (!primaryReady) return { phase: "Degraded", message: `primary ${status.primary} is not ready` };
  if (status.failedRevision && status.failedRevision.hash === view.target.hash)
    return {
      phase: "Degraded",
      message: `${status.failedRevision.version} failed to roll out (${status.failedRevision.reason}); running ${status.currentVersion}`,
    };
  if (ready < wanted) return { phase: "Degraded", message: `${ready}/${wanted} pods ready` };
  const n = names(view.cluster.metadata.name);
  return {
    phase: "Ready",
    message: `MySQL ${status.currentVersion}: primary ${status.primary} (${n.primaryService}), ${wanted - 1} read replicas (${n.replicaService})`,
  };
}
