/** Upgrades one pod at a time, with a backup first and a rollback when a pod does not come back ready. */
import { appsv1, corev1, isNotFound } from "converge-sdk";
import { MySQLBackup } from "../api/backup.ts";
import { preUpgradeBackupName } from "../backup/schedule.ts";
import { names, revisionAnnotation } from "../names.ts";
import { createBackup } from "./backups.ts";
import type { PodView } from "./pods.ts";
import { nextRestart, type RevisionInputs } from "./rollout.ts";
import { type Context, confirmCurrent, iso, podAnnotationsOf, transition, type View } from "./step.ts";
import { statefulSetFor } from "./workload.ts";

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

export async function applyStatefulSet(view: View, ctx: Context): Promise<appsv1.StatefulSet> {
  const readReplicas = view.cluster.status?.readReplicas ?? view.settings.readReplicas.min;
  const revision = templateRevision(view);
  const { namespace, name } = view.cluster.metadata;
  const live = ctx.cache.get(appsv1.StatefulSet, { namespace, name: names(name).statefulSet });
  const template = live?.spec?.template.metadata?.annotations?.[revisionAnnotation];
  if (live && (template !== revision.hash || live.spec?.replicas !== 1 + readReplicas)) await confirmCurrent(ctx);
  return ctx.apply(appsv1.StatefulSet, statefulSetFor(view.cluster, 1 + readReplicas, revision, revision.hash));
}

/**
 * Upgrades, one pod at a time: the pre-upgrade backup first, then read replicas from the highest ordinal, then
 * the primary; each pod is deleted only once every pod is ready, and must come back ready on the new revision
 * within the timeout. One that does not stops the rollout, which goes back to the revision the pods ran.
 */
export async function stepRollout(view: View, ctx: Context, timers: number[]): Promise<boolean> {
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
    // Only from the newest status: a new leader's older one may not show the rollout its predecessor started.
    await confirmCurrent(ctx);
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
  // Record the restart before deleting, so that the pod is deleted once (see above); and decide it only from the
  // newest status, which names the pods already restarted and the one being restarted.
  await confirmCurrent(ctx);
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
