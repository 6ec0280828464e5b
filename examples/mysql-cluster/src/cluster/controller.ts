import {
  appsv1,
  byLabel,
  controller,
  corev1,
  isNotFound,
  type Live,
  type ObjectContext,
  requeueAfter,
} from "converge-sdk";
import { MySQLBackup } from "../api/backup.ts";
import { type ClusterStatus, MySQLCluster, type Phase } from "../api/cluster.ts";
import { type Settings, settingsOf } from "../api/settings.ts";
import { preUpgradeBackupName } from "../backup/schedule.ts";
import { labels, managedBy, names, revisionAnnotation, selectorLabels } from "../names.ts";
import { autoscale } from "./autoscale.ts";
import { backupsOf, createBackup, lastCompleted, runSchedule } from "./backups.ts";
import { ensureCredentials, releaseCredentials } from "./credentials.ts";
import { countFailover, forgetCluster, recordCluster } from "./metrics.ts";
import { type PodView, podViews } from "./pods.ts";
import { nextRestart, type RevisionInputs, revisionHash } from "./rollout.ts";
import { setConditions } from "./status.ts";
import { chooseCandidate, primaryHealth, roleOf } from "./topology.ts";
import {
  configMapFor,
  headlessServiceFor,
  primaryServiceFor,
  replicaServiceFor,
  statefulSetFor,
  topologyFor,
} from "./workload.ts";

const finalizer = "db.example.com/cluster";

type Owned = typeof appsv1.StatefulSet | typeof corev1.Service | typeof corev1.ConfigMap | typeof corev1.Secret;
type Context = ObjectContext<MySQLCluster, Owned, true>;
type Cluster = Live<MySQLCluster, true>;

/** What one reconcile saw: the settings, the pods and the clock. */
interface View {
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
const stepTaken = undefined;

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * The `mysqlcluster` controller: the StatefulSet, Services, configuration and credentials of a MySQLCluster, and
 * the operations on it — failover, rolling upgrades with rollback, scaling from load, scheduled backups — each
 * carried out in steps recorded in the status.
 */
export const clusterController = controller("mysqlcluster")
  .for(MySQLCluster)
  .owns(appsv1.StatefulSet)
  .owns(corev1.Service)
  .owns(corev1.ConfigMap)
  .owns(corev1.Secret)
  .watches(corev1.Pod, byLabel(labels.instance, managedBy))
  .watches(MySQLBackup, (b) => [{ namespace: b.metadata?.namespace, name: b.spec.cluster }])
  .reconcile(async (cluster, ctx) => {
    const { namespace, name } = cluster.metadata;
    const cleanup = async () => {
      if (settingsOf(cluster).storage.whenDeleted === "Retain") await releaseCredentials(cluster, ctx);
      forgetCluster(ctx.metrics, namespace, name);
    };
    if ((await ctx.finalizer(finalizer, cleanup)) === "deleting") return;

    // The objects that do not depend on who is primary: made, and put back when edited or deleted.
    await ensureCredentials(cluster, ctx);
    await ctx.apply(corev1.ConfigMap, configMapFor(cluster));
    await ctx.apply(corev1.Service, headlessServiceFor(cluster));
    await ctx.apply(corev1.Service, replicaServiceFor(cluster));

    const settings = settingsOf(cluster);
    const inputs = { version: settings.version, podAnnotations: settings.podAnnotations };
    const view: View = {
      cluster: ctx.object,
      settings,
      pods: podViews(name, ctx.cache.list(corev1.Pod, { namespace, matchLabels: selectorLabels(name) })),
      now: new Date(),
      target: { ...inputs, hash: revisionHash(inputs) },
    };

    // A new cluster runs the revision of its spec from the start.
    if (!cluster.status?.revision) {
      await transition(view, ctx, (status) => {
        status.revision = { hash: view.target.hash, version: view.target.version, ...podAnnotationsOf(view.target) };
        status.currentVersion = view.target.version;
        status.readReplicas = settings.readReplicas.min;
      });
      return stepTaken;
    }

    const sts = await applyStatefulSet(view, ctx);
    view.sts = sts;
    const timers: number[] = [];

    // Operations, one transition per reconcile, the most urgent first.
    const primary = cluster.status.primary;
    if (!primary) {
      if (await electFirstPrimary(view, ctx)) return stepTaken;
    } else if (cluster.status.failover) {
      if (await finishFailover(view, ctx, timers)) return stepTaken;
    } else {
      const health = primaryHealth(
        { pod: primary, uid: cluster.status.primaryUID },
        view.pods,
        view.now,
        settings.primaryUnreadyMs,
        cluster.status.rollout?.pod,
      );
      if (health.state === "failed") {
        if (await decideFailover(view, ctx, primary, "PrimaryFailed", health.reason)) return stepTaken;
      } else if (health.state === "unready") {
        timers.push(health.recheckAfterMs);
      }
    }
    if (!ctx.object.status?.failover && ctx.object.status?.primary) {
      if (await stepRollout(view, ctx, timers)) return stepTaken;
      if (!ctx.object.status?.rollout && (await stepScaling(view, ctx, timers))) return stepTaken;
      await labelRoles(view, ctx);
    }

    // Scheduled backups and retention, then the status everyone reads.
    const schedule = await runSchedule(ctx.object, ctx, settings.backup, view.now);
    if (schedule.recheckAfterMs !== undefined) timers.push(schedule.recheckAfterMs);
    await writeStatus(view, ctx, schedule.slot);
    const next = Math.min(...timers.filter((t) => t >= 0), 5 * 60_000);
    return requeueAfter(Math.max(next, 100));
  });

const podAnnotationsOf = (inputs: RevisionInputs) =>
  inputs.podAnnotations ? { podAnnotations: inputs.podAnnotations } : {};

/** The revision the StatefulSet's template should be: the rollout's target, or back to the one the pods run. */
function templateRevision(view: View): RevisionInputs & { hash: string } {
  const status = view.cluster.status;
  const rollout = status?.rollout;
  const current = status?.revision;
  if (rollout?.step === "Rolling")
    return { version: rollout.version, podAnnotations: rollout.podAnnotations, hash: rollout.hash };
  if (current) return { version: current.version, podAnnotations: current.podAnnotations, hash: current.hash };
  return view.target;
}

async function applyStatefulSet(view: View, ctx: Context): Promise<appsv1.StatefulSet> {
  const readReplicas = view.cluster.status?.readReplicas ?? view.settings.readReplicas.min;
  const revision = templateRevision(view);
  const { namespace, name } = view.cluster.metadata;
  const live = ctx.cache.get(appsv1.StatefulSet, { namespace, name: names(name).statefulSet });
  const template = live?.spec?.template.metadata?.annotations?.[revisionAnnotation];
  if (live && (template !== revision.hash || live.spec?.replicas !== 1 + readReplicas)) await confirmCurrent(ctx);
  return ctx.apply(appsv1.StatefulSet, statefulSetFor(view.cluster, 1 + readReplicas, revision, revision.hash));
}

/**
 * A change that moves pods or traffic — the StatefulSet's template or size, the role labels, the write Service's
 * selector — is made only from the newest status. A new leader's cache may hold an older one for a moment after
 * its predecessor's last writes, and acting on it would undo a step already taken (point the Service back at the
 * old primary, give new pods the old template). One read from the apiserver, only when such a change is about to
 * be written; when the cache is behind, the reconcile fails and runs again once it caught up.
 */
async function confirmCurrent(ctx: Context): Promise<void> {
  const { namespace, name, resourceVersion } = ctx.object.metadata;
  const live = await ctx.client.get(MySQLCluster, { namespace, name });
  if (live.metadata?.resourceVersion !== resourceVersion)
    throw new Error(`the cached MySQLCluster ${name} is older than the apiserver's; reconciling the newer one`);
}

/** The first primary is pod 0, once it is ready. */
async function electFirstPrimary(view: View, ctx: Context): Promise<boolean> {
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
async function decideFailover(
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
async function finishFailover(view: View, ctx: Context, timers: number[]): Promise<boolean> {
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
async function labelRoles(view: View, ctx: Context): Promise<void> {
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

/**
 * Upgrades, one pod at a time: the pre-upgrade backup first, then read replicas from the highest ordinal, then
 * the primary; each pod is deleted only once every pod is ready, and must come back ready on the new revision
 * within the timeout. One that does not stops the rollout, which goes back to the revision the pods ran.
 */
async function stepRollout(view: View, ctx: Context, timers: number[]): Promise<boolean> {
  const status = ctx.object.status;
  const primary = status?.primary;
  const current = status?.revision;
  if (!status || !primary || !current) return false;
  const rollout = status.rollout;
  const { namespace, name } = view.cluster.metadata;
  const wanted = 1 + (status.readReplicas ?? view.settings.readReplicas.min);

  if (!rollout) {
    if (view.target.hash === current.hash || view.target.hash === status.failedRevision?.hash) return false;
    const versionChanges = view.target.version !== current.version;
    const backup =
      versionChanges && view.settings.upgrade.backupFirst ? preUpgradeBackupName(name, view.target.hash) : undefined;
    await transition(view, ctx, (s) => {
      s.rollout = {
        hash: view.target.hash,
        version: view.target.version,
        ...podAnnotationsOf(view.target),
        step: backup ? "Backup" : "Rolling",
        ...(backup ? { backup } : {}),
        restarted: [],
        startedAt: iso(view.now),
      };
    });
    ctx.event("Normal", "UpgradeStarted", `rolling out ${describe(view.target)} (from ${current.version})`, {
      action: "Upgrade",
    });
    return true;
  }

  if (rollout.step === "Backup") {
    const backupName = rollout.backup ?? preUpgradeBackupName(name, rollout.hash);
    const backup = ctx.cache.get(MySQLBackup, { namespace, name: backupName });
    if (!backup) {
      if ((await createBackup(view.cluster, ctx, backupName, "PreUpgrade")) === "created")
        ctx.event("Normal", "PreUpgradeBackup", `backing up to ${backupName} before the upgrade`, { action: "Backup" });
      return false;
    }
    if (backup.status?.phase === "Completed") {
      await transition(view, ctx, (s) => {
        if (s.rollout) s.rollout.step = "Rolling";
      });
      return true;
    }
    if (backup.status?.phase === "Failed") {
      await failRollout(view, ctx, `pre-upgrade backup ${backupName} failed`, false);
      return true;
    }
    return false;
  }

  const direction = rollout.step === "Rolling" ? "forward" : "back";
  const goal = direction === "forward" ? rollout.hash : current.hash;

  // A pod restarted on purpose: wait for it to come back ready on the goal revision.
  if (rollout.pod) {
    const pod = view.pods.find((p) => p.name === rollout.pod);
    if (pod && pod.uid === rollout.podUID && !pod.terminating) {
      // Recorded, not yet deleted (the operator stopped in between): delete it now, only that incarnation.
      await deletePod(ctx, namespace, pod);
      return false;
    }
    if (pod && !pod.terminating && pod.revision === goal && pod.ready) {
      await transition(view, ctx, (s) => {
        if (!s.rollout) return;
        s.rollout.restarted = [...(s.rollout.restarted ?? []), pod.name];
        s.rollout.pod = undefined;
        s.rollout.podUID = undefined;
        s.rollout.restartedAt = undefined;
        if (pod.name === s.primary) s.primaryUID = pod.uid;
      });
      return true;
    }
    const deadline = Date.parse(rollout.restartedAt ?? iso(view.now)) + view.settings.upgrade.podReadyTimeoutMs;
    if (direction === "forward" && view.now.getTime() >= deadline) {
      const version = rollout.version;
      await failRollout(
        view,
        ctx,
        `pod ${rollout.pod} of ${version} not ready after ${Math.round(view.settings.upgrade.podReadyTimeoutMs / 1000)}s`,
        true,
      );
      return true;
    }
    if (direction === "forward") timers.push(deadline - view.now.getTime());
    return false;
  }

  const next = nextRestart(view.pods, primary, goal, wanted, direction);
  if (next.kind === "wait") return false;
  if (next.kind === "done") {
    await transition(view, ctx, (s) => {
      const r = s.rollout;
      s.rollout = undefined;
      if (r?.step !== "Rolling") return;
      s.revision = { hash: r.hash, version: r.version, ...podAnnotationsOf(r) };
      s.currentVersion = r.version;
      s.failedRevision = undefined;
    });
    if (direction === "forward") {
      ctx.event("Normal", "UpgradeCompleted", `every pod runs ${rollout.version}`, { action: "Upgrade" });
    } else {
      ctx.event("Warning", "RolledBack", `every pod is back on ${current.version}: ${rollout.reason ?? ""}`, {
        action: "Rollback",
      });
    }
    return true;
  }
  // Record the restart before deleting, so that the pod is deleted once (see above).
  await transition(view, ctx, (s) => {
    if (!s.rollout) return;
    s.rollout.pod = next.pod.name;
    s.rollout.podUID = next.pod.uid;
    s.rollout.restartedAt = iso(view.now);
  });
  ctx.event("Normal", direction === "forward" ? "PodUpgrading" : "PodRollingBack", `restarting ${next.pod.name}`, {
    action: "Restart",
  });
  return true;
}

function describe(inputs: RevisionInputs & { hash: string }): string {
  return `${inputs.version} (revision ${inputs.hash})`;
}

/** Deletes exactly the pod seen (its uid as precondition): a pod already replaced is never deleted twice. */
async function deletePod(ctx: Context, namespace: string, pod: PodView): Promise<void> {
  try {
    await ctx.client.delete(corev1.Pod, { namespace, name: pod.name }, { preconditions: { uid: pod.uid } });
  } catch (err) {
    if (!isNotFound(err) && !(err instanceof Error && /precondition|UID/i.test(err.message))) throw err;
  }
}

/** Stops a rollout: the revision is marked failed (not tried again until the spec changes) and, if pods were restarted, rolled back. */
async function failRollout(view: View, ctx: Context, reason: string, rollBack: boolean): Promise<void> {
  const rollout = ctx.object.status?.rollout;
  if (!rollout) return;
  await transition(view, ctx, (s) => {
    s.failedRevision = { hash: rollout.hash, version: rollout.version, reason, at: iso(view.now) };
    s.rollout = rollBack
      ? { ...rollout, step: "RollingBack", reason, pod: undefined, podUID: undefined, restartedAt: undefined }
      : undefined;
  });
  ctx.event("Warning", "RolloutFailed", `${reason}; ${rollBack ? "rolling back" : "nothing was restarted"}`, {
    action: "Upgrade",
  });
}

/**
 * Read replicas from load (autoscale.ts), within the spec's bounds. Scaling down never removes the primary: when
 * the primary would be among the pods removed, a switchover to a remaining replica comes first.
 */
async function stepScaling(view: View, ctx: Context, timers: number[]): Promise<boolean> {
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

/**
 * Writes a step of an operation, with the phase it puts the cluster in, and records the phase change as an Event:
 * every status write goes through here or writeStatus, so every phase change has its Event.
 */
async function transition(view: View, ctx: Context, mutate: (status: ClusterStatus) => void): Promise<void> {
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

function phaseEvent(ctx: Context, before: Phase | undefined, after: { phase: Phase; message: string }): void {
  if (before === after.phase) return;
  const bad = after.phase === "Degraded" || after.phase === "FailingOver" || after.phase === "RollingBack";
  ctx.event(bad ? "Warning" : "Normal", "PhaseChanged", `${before ?? "New"} → ${after.phase}: ${after.message}`, {
    action: "Reconcile",
  });
}

/** The phase of `status` with the pods and StatefulSet of this reconcile. */
function phaseNow(status: ClusterStatus, view: View): { phase: Phase; message: string } {
  const wanted = 1 + (status.readReplicas ?? view.settings.readReplicas.min);
  const ready = view.pods.filter((p) => p.ready).length;
  const primaryReady = view.pods.find((p) => p.name === status.primary)?.ready === true;
  return phaseOf(status, view, wanted, ready, primaryReady, view.sts);
}

/** The phase, conditions, counts and metrics; an Event on every phase change. */
async function writeStatus(view: View, ctx: Context, slot: Date | undefined): Promise<void> {
  const before = ctx.object.status ?? {};
  const backups = backupsOf(ctx.object, ctx);
  const last = lastCompleted(backups);
  const primaryPod = view.pods.find((p) => p.name === before.primary);
  const wanted = 1 + (before.readReplicas ?? view.settings.readReplicas.min);
  const readyReplicas = view.pods.filter((p) => p.ready).length;
  const phase = phaseNow(before, view);
  const written = await ctx.status((status, conditions) => {
    status.phase = phase.phase;
    status.message = phase.message;
    status.replicas = wanted;
    status.readyReplicas = readyReplicas;
    if (slot) status.lastScheduledBackup = iso(slot);
    if (last) status.lastBackup = last;
    setConditions(conditions, status, view.target.hash, primaryPod?.ready === true, readyReplicas, wanted);
  });
  phaseEvent(ctx, before.phase, phase);
  recordCluster(ctx.metrics, {
    namespace: view.cluster.metadata.namespace,
    name: view.cluster.metadata.name,
    phase: phase.phase,
    replicas: wanted,
    readyReplicas,
    readReplicasWanted: wanted - 1,
    primaryReady: primaryPod?.ready === true,
    lastBackup: last ? new Date(last.completionTime) : undefined,
    lag: view.pods
      .filter((p) => p.name !== written.status?.primary && p.lagSeconds !== undefined)
      .map((p) => ({ pod: p.name, seconds: p.lagSeconds ?? 0 })),
    loadPerReplica: written.status?.autoscaling?.loadPerReplica,
    rolloutFailed: written.status?.failedRevision?.hash === view.target.hash,
  });
}

function phaseOf(
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
