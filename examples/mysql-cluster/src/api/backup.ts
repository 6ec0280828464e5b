import { cel, conditions, defineResource, type ObjectOf, Type } from "converge-sdk";
import { group } from "./cluster.ts";

/** Why a backup was taken (label `db.example.com/backup-reason`): retention deletes only scheduled ones. */
export type BackupReason = "Manual" | "Scheduled" | "PreUpgrade";

/**
 * db.example.com MySQLBackup: one backup of a MySQLCluster, taken by a Job (`<backup>-<attempt>`). An attempt that
 * does not finish within the cluster's `backup.timeoutSeconds` is stopped and retried with backoff, up to
 * `backup.maxAttempts`. Backups are not owned by their cluster: they outlive it, so that a new cluster can be
 * restored from them.
 */
export const MySQLBackup = defineResource({
  group,
  kind: "MySQLBackup",
  plural: "mysqlbackups",
  singular: "mysqlbackup",
  shortNames: ["myb"],
  categories: ["db"],
  description: "One backup of a MySQLCluster, on demand, on its schedule, or before an upgrade.",
  versions: {
    v1beta1: {
      spec: Type.Object({
        cluster: Type.String({
          minLength: 1,
          description: "The MySQLCluster to back up (same namespace).",
          ...cel("self == oldSelf", "cluster cannot be changed"),
        }),
        reason: Type.Optional(
          Type.Union([Type.Literal("Manual"), Type.Literal("Scheduled"), Type.Literal("PreUpgrade")], {
            default: "Manual",
            description: "Why it is taken: retention deletes only Scheduled backups.",
          }),
        ),
      }),
      status: Type.Object({
        phase: Type.Optional(
          Type.Union([
            Type.Literal("Pending"),
            Type.Literal("Running"),
            Type.Literal("Retrying"),
            Type.Literal("Completed"),
            Type.Literal("Failed"),
          ]),
        ),
        message: Type.Optional(Type.String()),
        attempt: Type.Optional(Type.Integer({ description: "The attempt running or last run (1, 2, ...)." })),
        attempts: Type.Optional(
          Type.Array(
            Type.Object({
              attempt: Type.Integer(),
              job: Type.String(),
              result: Type.Union([Type.Literal("Stuck"), Type.Literal("Failed")]),
              finishedAt: Type.String({ format: "date-time" }),
            }),
            { description: "Attempts that did not succeed.", maxItems: 20 },
          ),
        ),
        retryAt: Type.Optional(Type.String({ format: "date-time", description: "When the next attempt starts." })),
        startedAt: Type.Optional(Type.String({ format: "date-time" })),
        completionTime: Type.Optional(Type.String({ format: "date-time" })),
        location: Type.Optional(Type.String({ description: "Where the dump is: `<volume claim>:/<path>`." })),
        source: Type.Optional(
          Type.Object(
            { version: Type.String(), storageSize: Type.String(), readReplicas: Type.Integer() },
            { description: "The cluster it was taken from, as a restore recreates it." },
          ),
        ),
        conditions: Type.Optional(conditions({ description: "Completed (True once the dump is written)." })),
      }),
      printerColumns: [
        { name: "Cluster", type: "string", jsonPath: ".spec.cluster" },
        { name: "Reason", type: "string", jsonPath: ".spec.reason" },
        { name: "Phase", type: "string", jsonPath: ".status.phase" },
        { name: "Attempt", type: "integer", jsonPath: ".status.attempt" },
        { name: "Completed", type: "date", jsonPath: ".status.completionTime" },
      ],
    },
  },
});
export type MySQLBackup = ObjectOf<typeof MySQLBackup>;
