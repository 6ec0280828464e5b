import {
  batchv1,
  controller,
  corev1,
  isAlreadyExists,
  isNotFound,
  type Live,
  type ObjectContext,
  requeueAfter,
} from "converge-sdk";
import { MySQLBackup } from "../api/backup.ts";
import { MySQLCluster } from "../api/cluster.ts";
import { settingsOf } from "../api/settings.ts";
import { countFailedBackupAttempt } from "../cluster/metrics.ts";
import { names } from "../names.ts";
import { backupJob, backupVolume, dumpPath, jobName, jobOutcome } from "./job.ts";
import { backoffMs } from "./schedule.ts";

type Context = ObjectContext<MySQLBackup, typeof batchv1.Job, true>;

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * The `mysqlbackup` controller: one Job per attempt (`<backup>-<attempt>`, so an attempt is never started twice).
 * An attempt whose Job fails, or does not finish within the cluster's `backup.timeoutSeconds` (stuck: pods that
 * cannot be created or scheduled, a dump that hangs), is stopped — its Job deleted — and the next starts after a
 * backoff that doubles each time, up to `backup.maxAttempts`. Each transition is written to the status before it
 * is acted on.
 */
export const backupController = controller("mysqlbackup")
  .for(MySQLBackup)
  .owns(batchv1.Job)
  .reconcile(async (backup, ctx) => {
    const phase = backup.status?.phase;
    if (phase === "Completed" || phase === "Failed") return;
    const { namespace, name } = backup.metadata;
    const cluster = ctx.cache.get(MySQLCluster, { namespace, name: backup.spec.cluster });
    const now = new Date();
    if (!cluster) {
      await ctx.status((s) => {
        s.phase = "Pending";
        s.message = `MySQLCluster ${backup.spec.cluster} not found`;
      });
      return requeueAfter(10_000);
    }
    const settings = settingsOf(cluster).backup;
    const attempt = backup.status?.attempt ?? 0;

    if (attempt === 0) {
      await ctx.status((s, conditions) => {
        s.phase = "Running";
        s.attempt = 1;
        s.startedAt = iso(now);
        s.location = `${names(backup.spec.cluster).backups}:${dumpPath(name)}`;
        s.source = {
          version: cluster.status?.currentVersion ?? cluster.spec.version,
          storageSize: settingsOf(cluster).storage.size,
          readReplicas: settingsOf(cluster).readReplicas.min,
        };
        conditions.set("Completed", false, "Running", "attempt 1");
      });
      ctx.event("Normal", "BackupStarted", `backing up MySQLCluster ${backup.spec.cluster}`, { action: "Backup" });
      return;
    }

    if (backup.status?.retryAt) {
      const wait = Date.parse(backup.status.retryAt) - now.getTime();
      if (wait > 0) return requeueAfter(wait);
      await ctx.status((s) => {
        s.phase = "Running";
        s.attempt = attempt + 1;
        s.retryAt = undefined;
      });
      ctx.event("Normal", "BackupRetrying", `attempt ${attempt + 1} of ${settings.maxAttempts}`, { action: "Backup" });
      return;
    }

    // An attempt's Job is made once and then only read: its template is immutable, and what it was made from (the
    // primary, the version) may have changed since — an upgrade or a failover during a backup.
    let job = ctx.cache.get(batchv1.Job, { namespace, name: jobName(name, attempt) });
    if (!job) {
      await ensureBackupVolume(ctx, namespace, backup.spec.cluster, settingsOf(cluster).storage.size);
      const source = cluster.status?.primary ?? names(backup.spec.cluster).pod(0);
      const version = backup.status?.source?.version ?? cluster.status?.currentVersion ?? cluster.spec.version;
      job = await ctx.apply(batchv1.Job, backupJob(name, backup.spec.cluster, attempt, version, source));
    }
    const outcome = jobOutcome(job);
    if (outcome === "Complete") {
      await ctx.status((s, conditions) => {
        s.phase = "Completed";
        s.completionTime = job.status?.completionTime ?? iso(now);
        s.message = `dump at ${s.location}`;
        conditions.set("Completed", true, "Completed", `attempt ${attempt}`);
      });
      ctx.event("Normal", "BackupCompleted", `attempt ${attempt} completed`, { action: "Backup" });
      return;
    }
    const started = Date.parse(job.metadata?.creationTimestamp ?? iso(now));
    const stuck = now.getTime() - started >= settings.timeoutMs;
    if (!outcome && !stuck) return requeueAfter(started + settings.timeoutMs - now.getTime());
    await giveUpAttempt(backup, ctx, jobName(name, attempt), outcome === "Failed" ? "Failed" : "Stuck", settings, now);
  });

/** Records a failed or stuck attempt, stops its Job, and plans the next one (or fails the backup). */
async function giveUpAttempt(
  backup: Live<MySQLBackup, true>,
  ctx: Context,
  job: string,
  result: "Stuck" | "Failed",
  settings: { maxAttempts: number; backoffSeconds: number; timeoutMs: number },
  now: Date,
): Promise<void> {
  const attempt = backup.status?.attempt ?? 1;
  const last = attempt >= settings.maxAttempts;
  const retryAt = new Date(now.getTime() + backoffMs(attempt + 1, settings.backoffSeconds));
  await ctx.status((s, conditions) => {
    s.attempts = [...(s.attempts ?? []), { attempt, job, result, finishedAt: iso(now) }].slice(-20);
    if (last) {
      s.phase = "Failed";
      s.message = `${attempt} attempts failed; the last was ${result.toLowerCase()}`;
      conditions.set("Completed", false, "Failed", s.message);
    } else {
      s.phase = "Retrying";
      s.retryAt = iso(retryAt);
      s.message = `attempt ${attempt} ${result === "Stuck" ? `stuck after ${settings.timeoutMs / 1000}s` : "failed"}; retrying at ${iso(retryAt)}`;
      conditions.set("Completed", false, "Retrying", s.message);
    }
  });
  countFailedBackupAttempt(ctx.metrics, backup.metadata.namespace, backup.spec.cluster);
  ctx.event(
    "Warning",
    result === "Stuck" ? "BackupStuck" : "BackupAttemptFailed",
    last
      ? `attempt ${attempt} ${result.toLowerCase()}; giving up`
      : `attempt ${attempt} ${result.toLowerCase()}; next at ${iso(retryAt)}`,
    { action: "Backup" },
  );
  try {
    await ctx.client.delete(
      batchv1.Job,
      { namespace: backup.metadata.namespace, name: job },
      { propagationPolicy: "Background" },
    );
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

async function ensureBackupVolume(ctx: Context, namespace: string, cluster: string, size: string): Promise<void> {
  try {
    await ctx.client.create(corev1.PersistentVolumeClaim, backupVolume(namespace, cluster, size));
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}
