import {
  batchv1,
  byLabel,
  controller,
  corev1,
  isAlreadyExists,
  type KubeObject,
  type ObjectContext,
  type ResourceType,
  requeueAfter,
} from "converge-sdk";
import { MySQLBackup } from "../api/backup.ts";
import { MySQLCluster } from "../api/cluster.ts";
import { MySQLRestore } from "../api/restore.ts";
import { jobOutcome, restoreJob } from "../backup/job.ts";
import { labels, names, selectorLabels } from "../names.ts";

type Context = ObjectContext<MySQLRestore, typeof batchv1.Job, true>;

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Annotation of a restored cluster: the backup it was made from. */
export const restoredFromAnnotation = "db.example.com/restored-from";

/**
 * The `mysqlrestore` controller: a new MySQLCluster from a completed backup. The new primary's data volume
 * (`data-<cluster>-0`, the name the StatefulSet's claim template gives pod 0) is made first and the dump loaded
 * into it by a Job; then the cluster is created with the backup's version and size, and its StatefulSet takes
 * that volume. The restore completes when the cluster is Ready. A cluster of that name that this restore did not
 * make is never touched.
 */
export const restoreController = controller("mysqlrestore")
  .for(MySQLRestore)
  .owns(batchv1.Job)
  .watches(MySQLCluster, byLabel(labels.restore))
  // Cached for the reads below; a restore waiting for its backup looks again (requeueAfter).
  .watches(MySQLBackup, () => [])
  .reconcile(async (restore, ctx) => {
    const phase = restore.status?.phase;
    if (phase === "Completed" || phase === "Failed") return;
    const { namespace, name } = restore.metadata;
    const target = restore.spec.cluster;
    const existing = ctx.cache.get(MySQLCluster, { namespace, name: target });
    if (existing && existing.metadata?.labels?.[labels.restore] !== name)
      return fail(ctx, `MySQLCluster ${target} exists already: a restore makes a new cluster`);
    if (existing) {
      const ready = existing.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
      const message = ready ? `MySQLCluster ${target} is ready` : `waiting for MySQLCluster ${target} to be ready`;
      await ctx.status((s, conditions) => {
        s.phase = ready ? "Completed" : "Starting";
        s.message = message;
        if (ready) s.completionTime = iso(new Date());
        conditions.set("Completed", ready, ready ? "ClusterReady" : "ClusterStarting", message);
      });
      if (ready)
        ctx.event("Normal", "Restored", `MySQLCluster ${target} is ready with the data of ${restore.spec.backup}`);
      return;
    }

    const backup = ctx.cache.get(MySQLBackup, { namespace, name: restore.spec.backup });
    if (!backup) return wait(ctx, `MySQLBackup ${restore.spec.backup} not found`);
    if (backup.status?.phase === "Failed") return fail(ctx, `MySQLBackup ${restore.spec.backup} failed`);
    const source = backup.status?.source;
    if (backup.status?.phase !== "Completed" || !source)
      return wait(ctx, `MySQLBackup ${restore.spec.backup} is not completed yet`);

    await createOnce(ctx, corev1.PersistentVolumeClaim, {
      metadata: { name: names(target).dataVolume(0), namespace, labels: selectorLabels(target) },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: source.storageSize } } },
    });
    const job = await ctx.apply(
      batchv1.Job,
      restoreJob(name, restore.spec.backup, backup.spec.cluster, target, source.version),
    );
    const outcome = jobOutcome(job);
    if (outcome === "Failed") return fail(ctx, `restore Job ${job.metadata.name} failed`);
    if (outcome !== "Complete") {
      const message = `loading ${restore.spec.backup} into ${names(target).dataVolume(0)}`;
      await ctx.status((s, conditions) => {
        s.phase = "Restoring";
        s.message = message;
        conditions.set("Completed", false, "Restoring", message);
      });
      return;
    }
    await createOnce(ctx, MySQLCluster, {
      metadata: {
        name: target,
        namespace,
        labels: { [labels.restore]: name },
        annotations: { [restoredFromAnnotation]: restore.spec.backup },
      },
      spec: {
        version: source.version,
        readReplicas: { min: source.readReplicas },
        storage: { size: source.storageSize },
      },
    });
    ctx.event("Normal", "ClusterCreated", `created MySQLCluster ${target} from ${restore.spec.backup}`, {
      action: "Restore",
    });
  });

/** Creates `obj` unless it exists (a repeated reconcile, a restarted operator). */
async function createOnce<T extends KubeObject>(ctx: Context, type: ResourceType<T>, obj: T): Promise<void> {
  try {
    await ctx.client.create(type, obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

async function wait(ctx: Context, message: string) {
  await ctx.status((s, conditions) => {
    s.phase = "Pending";
    s.message = message;
    conditions.set("Completed", false, "Pending", message);
  });
  return requeueAfter(5_000);
}

async function fail(ctx: Context, message: string) {
  await ctx.status((s, conditions) => {
    s.phase = "Failed";
    s.message = message;
    conditions.set("Completed", false, "Failed", message);
  });
  ctx.event("Warning", "RestoreFailed", message, { action: "Restore" });
  return undefined;
}
