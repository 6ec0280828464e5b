import { cel, celRules, conditions, defineResource, type ObjectOf, Type } from "converge-sdk";
import { cronSchedulePattern, identifierPattern, imageTagPattern, storageQuantityPattern } from "./patterns.ts";

/** The MySQL version used when `spec.mysqlVersion` is not given (the CRD defaults it, so stored objects have it). */
export const defaultMysqlVersion = "8.0";

/** The phases of `status.phase`, from the workload's real state. */
export type Phase = "Pending" | "Progressing" | "Ready" | "Failed";

/**
 * operators.example.com/v1alpha1 MySQL: a single MySQL server with a generated password, a data volume, a Service
 * on 3306 and optional scheduled backups. This one definition gives the TypeScript type, the CRD (`npm run
 * generate` writes config/crd/) and validation; the patterns are checked by the apiserver and by `MySQL.validate()`
 * alike, so a bad size or schedule is refused with its field path before anything is created.
 */
export const MySQL = defineResource({
  group: "operators.example.com",
  kind: "MySQL",
  plural: "mysqls",
  singular: "mysql",
  shortNames: ["mysql"],
  description:
    "MySQL runs one MySQL server: a StatefulSet with its data on a PersistentVolumeClaim, a Service on port 3306, " +
    "credentials in a generated Secret, and backups on a schedule.",
  versions: {
    v1alpha1: {
      spec: Type.Object({
        databaseName: Type.String({
          minLength: 1,
          maxLength: 64,
          pattern: identifierPattern,
          description:
            "Database created when the server first starts (letters, digits and underscores). Fixed after creation: " +
            "the server creates it only on an empty data volume.",
          ...cel("self == oldSelf", "databaseName cannot be changed once the database exists"),
        }),
        databaseUser: Type.String({
          minLength: 1,
          maxLength: 32,
          pattern: identifierPattern,
          description:
            "User created with all privileges on databaseName; its password is generated into the Secret " +
            "<name>-credentials (key `password`). Fixed after creation, like databaseName.",
          ...celRules(
            { rule: "self != 'root'", message: "databaseUser must not be root: root has its own generated password" },
            { rule: "self == oldSelf", message: "databaseUser cannot be changed once the user exists" },
          ),
        }),
        storageSize: Type.String({
          pattern: storageQuantityPattern,
          maxLength: 32,
          // Besides the pattern (which `validate()` checks too), a rule with a message people can read.
          ...cel(
            "isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))",
            "storageSize must be a positive quantity such as 10Gi",
          ),
          description:
            "Size of the data volume (a Kubernetes quantity such as 10Gi); the backup volume gets the same size. " +
            "Growing it needs a StorageClass that allows volume expansion; volumes never shrink.",
        }),
        backupSchedule: Type.Optional(
          Type.String({
            pattern: cronSchedulePattern,
            maxLength: 256,
            ...cel(
              `self.matches(r'${cronSchedulePattern}')`,
              "backupSchedule must be a cron schedule: five fields (minute hour day-of-month month day-of-week) or a macro such as @daily",
            ),
            description:
              'When to back up, as a CronJob schedule ("0 2 * * *", "@daily"). Unset: no backups (the backup volume, ' +
              "if one was made, is kept).",
          }),
        ),
        mysqlVersion: Type.Optional(
          Type.String({
            default: defaultMysqlVersion,
            pattern: imageTagPattern,
            description: "Tag of the official mysql image. Changing it rolls the server to the new image.",
          }),
        ),
        deletionPolicy: Type.Optional(
          Type.Union([Type.Literal("Retain"), Type.Literal("Delete")], {
            default: "Retain",
            description:
              "What happens to the data volume, the backup volume and the credentials when the MySQL is deleted: " +
              "Retain keeps them (a MySQL created again with the same name takes them back), Delete removes them.",
          }),
        ),
      }),
      status: Type.Object({
        phase: Type.Optional(
          Type.Union(
            [Type.Literal("Pending"), Type.Literal("Progressing"), Type.Literal("Ready"), Type.Literal("Failed")],
            { description: "Pending (storage or credentials not ready), Progressing, Ready or Failed." },
          ),
        ),
        message: Type.Optional(Type.String({ description: "What the phase is waiting for, or what failed." })),
        lastBackup: Type.Optional(
          Type.String({
            format: "date-time",
            description: "Completion time of the most recent successful backup Job.",
          }),
        ),
        conditions: Type.Optional(
          conditions({ description: "Ready, Progressing and Degraded, with the generation they describe." }),
        ),
      }),
      printerColumns: [
        { name: "Phase", type: "string", jsonPath: ".status.phase" },
        { name: "Version", type: "string", jsonPath: ".spec.mysqlVersion" },
        { name: "Storage", type: "string", jsonPath: ".spec.storageSize" },
        { name: "Last Backup", type: "date", jsonPath: ".status.lastBackup" },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  },
});

/** A MySQL object, as the client and cache return it. */
export type MySQL = ObjectOf<typeof MySQL>;

/** The deletion policy of a MySQL, defaulted. */
export function deletionPolicyOf(mysql: MySQL): "Retain" | "Delete" {
  return mysql.spec.deletionPolicy ?? "Retain";
}

/** The MySQL version of a MySQL, defaulted. */
export function mysqlVersionOf(mysql: MySQL): string {
  return mysql.spec.mysqlVersion ?? defaultMysqlVersion;
}
