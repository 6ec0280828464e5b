import { isAlreadyExists, isNotFound, type Live, type ObjectContext, type ResourceType } from "converge-sdk";
import { MySQLBackup } from "../api/backup.ts";
import type { MySQLCluster } from "../api/cluster.ts";
import type { Settings } from "../api/settings.ts";
import { dueSlot, expired, nextSlot, scheduledBackupName } from "../backup/schedule.ts";
import { labels } from "../names.ts";

type Context = Pick<ObjectContext<MySQLCluster, ResourceType, true>, "cache" | "client" | "event">;

/** Annotation of a scheduled backup: the slot it was made for. */
export const slotAnnotation = "db.example.com/schedule-slot";

/** The backups of a cluster, from the cache. */
export function backupsOf(cluster: Live<MySQLCluster, true>, ctx: Pick<Context, "cache">): MySQLBackup[] {
  return ctx.cache.list(MySQLBackup, {
    namespace: cluster.metadata.namespace,
    matchLabels: { [labels.cluster]: cluster.metadata.name },
  });
}

/**
 * Creates a backup of `name` unless it exists: the name is the idempotency key (a schedule slot, a revision), so
 * a retried or repeated reconcile — after a restart, on a new leader — never makes a second one.
 */
export async function createBackup(
  cluster: Live<MySQLCluster, true>,
  ctx: Context,
  name: string,
  reason: MySQLBackup["spec"]["reason"],
  annotations: Record<string, string> = {},
): Promise<"created" | "exists"> {
  try {
    await ctx.client.create(MySQLBackup, {
      metadata: {
        name,
        namespace: cluster.metadata.namespace,
        labels: { [labels.cluster]: cluster.metadata.name, [labels.backupReason]: reason ?? "Manual" },
        annotations,
      },
      spec: { cluster: cluster.metadata.name, reason },
    });
    return "created";
  } catch (err) {
    if (isAlreadyExists(err)) return "exists";
    throw err;
  }
}

export interface ScheduleOutcome {
  /** The slot now taken, to record in status.lastScheduledBackup. */
  slot: Date | undefined;
  /** When the next slot is due. */
  recheckAfterMs: number | undefined;
}

/** Takes the backup of the slot that is due, if any, and deletes scheduled backups beyond `keep`. */
export async function runSchedule(
  cluster: Live<MySQLCluster, true>,
  ctx: Context,
  backup: Settings["backup"],
  now: Date,
): Promise<ScheduleOutcome> {
  if (!backup.schedule) return { slot: undefined, recheckAfterMs: undefined };
  const since = new Date(cluster.metadata.creationTimestamp ?? now.toISOString());
  const last = cluster.status?.lastScheduledBackup ? new Date(cluster.status.lastScheduledBackup) : undefined;
  const slot = dueSlot(backup.schedule, now, since, last);
  if (slot) {
    const name = scheduledBackupName(cluster.metadata.name, slot);
    if ((await createBackup(cluster, ctx, name, "Scheduled", { [slotAnnotation]: slot.toISOString() })) === "created")
      ctx.event("Normal", "BackupScheduled", `created MySQLBackup ${name} for ${slot.toISOString()}`, {
        action: "Backup",
      });
  }
  const scheduled = backupsOf(cluster, ctx)
    .filter((b) => b.spec.reason === "Scheduled")
    .map((b) => ({
      name: b.metadata?.name ?? "",
      slot: b.metadata?.annotations?.[slotAnnotation] ?? b.metadata?.creationTimestamp ?? "",
      finished: b.status?.phase === "Completed" || b.status?.phase === "Failed",
    }));
  for (const name of expired(scheduled, backup.keep)) {
    try {
      await ctx.client.delete(MySQLBackup, { namespace: cluster.metadata.namespace, name });
      ctx.event("Normal", "BackupExpired", `deleted MySQLBackup ${name}: beyond the ${backup.keep} kept`, {
        action: "Delete",
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const next = nextSlot(backup.schedule, now);
  return { slot, recheckAfterMs: next ? Math.max(0, next.getTime() - now.getTime()) + 50 : undefined };
}

/** The newest completed backup of the cluster. */
export function lastCompleted(backups: readonly MySQLBackup[]): { name: string; completionTime: string } | undefined {
  let newest: { name: string; completionTime: string } | undefined;
  for (const b of backups) {
    const at = b.status?.completionTime;
    if (b.status?.phase !== "Completed" || !at) continue;
    if (!newest || at > newest.completionTime) newest = { name: b.metadata?.name ?? "", completionTime: at };
  }
  return newest;
}
