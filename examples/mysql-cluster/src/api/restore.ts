import { cel, conditions, defineResource, type ObjectOf, Type } from "converge-sdk";
import { group } from "./cluster.ts";

/**
 * db.example.com MySQLRestore: a new MySQLCluster made from a completed MySQLBackup. The restore writes the dump
 * into the new primary's data volume with a Job, then creates the cluster (with the backup's version and size),
 * whose StatefulSet finds that volume by name.
 */
export const MySQLRestore = defineResource({
  group,
  kind: "MySQLRestore",
  plural: "mysqlrestores",
  singular: "mysqlrestore",
  shortNames: ["myr"],
  categories: ["db"],
  description: "Restores a MySQLBackup into a new MySQLCluster.",
  versions: {
    v1beta1: {
      spec: Type.Object(
        {
          backup: Type.String({ minLength: 1, description: "The MySQLBackup to restore (same namespace)." }),
          cluster: Type.String({
            minLength: 1,
            maxLength: 40,
            pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            description: "Name of the new MySQLCluster; it must not exist yet.",
          }),
        },
        cel("self == oldSelf", "a restore cannot be changed; create another"),
      ),
      status: Type.Object({
        phase: Type.Optional(
          Type.Union([
            Type.Literal("Pending"),
            Type.Literal("Restoring"),
            Type.Literal("Starting"),
            Type.Literal("Completed"),
            Type.Literal("Failed"),
          ]),
        ),
        message: Type.Optional(Type.String()),
        completionTime: Type.Optional(Type.String({ format: "date-time" })),
        conditions: Type.Optional(conditions({ description: "Completed (True once the new cluster is Ready)." })),
      }),
      printerColumns: [
        { name: "Backup", type: "string", jsonPath: ".spec.backup" },
        { name: "Cluster", type: "string", jsonPath: ".spec.cluster" },
        { name: "Phase", type: "string", jsonPath: ".status.phase" },
      ],
    },
  },
});
export type MySQLRestore = ObjectOf<typeof MySQLRestore>;
