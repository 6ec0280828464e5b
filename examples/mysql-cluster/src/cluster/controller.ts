import { appsv1, byLabel, controller, corev1, requeueAfter } from "converge-sdk";
import { MySQLBackup } from "../api/backup.ts";
import { MySQLCluster } from "../api/cluster.ts";
import { settingsOf } from "../api/settings.ts";
import { labels, managedBy, selectorLabels } from "../names.ts";
import { backupsOf, lastCompleted, runSchedule } from "./backups.ts";
import { ensureCredentials, releaseCredentials } from "./credentials.ts";
import { decideFailover, electFirstPrimary, finishFailover, labelRoles } from "./failover.ts";
import { forgetCluster, recordCluster } from "./metrics.ts";
import { podViews } from "./pods.ts";
import { revisionHash } from "./rollout.ts";
import { stepScaling } from "./scaling.ts";
import { setConditions } from "./status.ts";
import { type Context, iso, phaseEvent, phaseNow, podAnnotationsOf, stepTaken, transition, type View } from "./step.ts";
import { primaryHealth } from "./topology.ts";
import { applyStatefulSet, stepRollout } from "./upgrade.ts";
import { configMapFor, headlessServiceFor, replicaServiceFor } from "./workload.ts";

const finalizer = "db.example.com/cluster";

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
