import { cel, conditions, defineResource, type ObjectOf, type TSchema, Type } from "converge-sdk";

/** The API group of the operator's kinds. */
export const group = "db.example.com";

const versionPattern = "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$";
const quantityPattern = "^([1-9][0-9]*(\\.[0-9]+)?|0?\\.[0-9]*[1-9][0-9]*)([KMGTPE]i|[kMGTPE])?$";
/** Five cron fields, or six with seconds first (the operator evaluates the schedule itself), or a macro. */
const schedulePattern =
  "^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([0-9*/,-]+ ){4,5}[0-9A-Za-z*/,-]+)$";

const policy = (description: string) =>
  Type.Union([Type.Literal("Retain"), Type.Literal("Delete")], { default: "Retain", description });

/** The phases of `status.phase`; every change is recorded as an Event. */
export const phases = ["Creating", "Ready", "Upgrading", "RollingBack", "FailingOver", "Scaling", "Degraded"] as const;
export type Phase = (typeof phases)[number];

/**
 * The status is the same in both versions: only the spec changed shape between v1alpha1 and v1beta1. Everything
 * an operation needs to resume after a restart (a failover decided, the pod a rollout restarted, the schedule slot
 * last backed up) is here, written before the step it describes, so that a new leader finishes the step instead
 * of taking it twice.
 */
const status = Type.Object({
  phase: Type.Optional(
    Type.Union([
      Type.Literal("Creating"),
      Type.Literal("Ready"),
      Type.Literal("Upgrading"),
      Type.Literal("RollingBack"),
      Type.Literal("FailingOver"),
      Type.Literal("Scaling"),
      Type.Literal("Degraded"),
    ]),
  ),
  message: Type.Optional(Type.String({ description: "What the phase is waiting for, or what went wrong." })),
  primary: Type.Optional(Type.String({ description: "The pod that takes writes (the `<name>` Service selects it)." })),
  primaryUID: Type.Optional(Type.String({ description: "uid of the primary pod when it became primary." })),
  replicas: Type.Optional(Type.Integer({ description: "Pods wanted: the primary and the read replicas." })),
  readyReplicas: Type.Optional(Type.Integer({ description: "Pods ready." })),
  readReplicas: Type.Optional(
    Type.Integer({ description: "Read replicas wanted now (between spec.readReplicas.min and max)." }),
  ),
  currentVersion: Type.Optional(Type.String({ description: "The MySQL version every pod runs." })),
  revision: Type.Optional(
    Type.Object(
      {
        hash: Type.String(),
        version: Type.String(),
        podAnnotations: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { description: "The pod template every pod runs: what a failed rollout goes back to." },
    ),
  ),
  rollout: Type.Optional(
    Type.Object(
      {
        hash: Type.String(),
        version: Type.String(),
        podAnnotations: Type.Optional(Type.Record(Type.String(), Type.String())),
        step: Type.Union([Type.Literal("Backup"), Type.Literal("Rolling"), Type.Literal("RollingBack")]),
        backup: Type.Optional(Type.String({ description: "The pre-upgrade MySQLBackup." })),
        pod: Type.Optional(Type.String({ description: "The pod restarted now." })),
        podUID: Type.Optional(Type.String({ description: "uid of that pod before it was deleted." })),
        restartedAt: Type.Optional(Type.String({ format: "date-time" })),
        restarted: Type.Optional(Type.Array(Type.String(), { description: "Pods already on the new revision." })),
        reason: Type.Optional(Type.String({ description: "Why the rollout is rolling back." })),
        startedAt: Type.String({ format: "date-time" }),
      },
      { description: "The rollout in progress, one pod at a time: read replicas first, the primary last." },
    ),
  ),
  failedRevision: Type.Optional(
    Type.Object(
      { hash: Type.String(), version: Type.String(), reason: Type.String(), at: Type.String({ format: "date-time" }) },
      { description: "The last revision that failed to roll out; it is not tried again until the spec changes." },
    ),
  ),
  failover: Type.Optional(
    Type.Object(
      {
        from: Type.String(),
        to: Type.String(),
        reason: Type.Union([Type.Literal("PrimaryFailed"), Type.Literal("Switchover")]),
        startedAt: Type.String({ format: "date-time" }),
      },
      { description: "A promotion decided and not yet finished." },
    ),
  ),
  failovers: Type.Optional(
    Type.Array(
      Type.Object({
        from: Type.String(),
        to: Type.String(),
        reason: Type.String(),
        at: Type.String({ format: "date-time" }),
      }),
      { description: "The last promotions, newest last (at most 10).", maxItems: 10 },
    ),
  ),
  autoscaling: Type.Optional(
    Type.Object({
      loadPerReplica: Type.Optional(Type.Integer({ description: "Mean load of the ready read replicas." })),
      pendingReadReplicas: Type.Optional(Type.Integer({ description: "A change waiting for its window." })),
      pendingSince: Type.Optional(Type.String({ format: "date-time" })),
      lastScaleTime: Type.Optional(Type.String({ format: "date-time" })),
    }),
  ),
  lastScheduledBackup: Type.Optional(
    Type.String({ format: "date-time", description: "The schedule slot last backed up." }),
  ),
  lastBackup: Type.Optional(Type.Object({ name: Type.String(), completionTime: Type.String({ format: "date-time" }) })),
  conditions: Type.Optional(
    conditions({
      description: "Ready, Progressing, Degraded and PrimaryAvailable (kubectl wait --for=condition=...).",
    }),
  ),
});

const printerColumns = [
  { name: "Phase", type: "string", jsonPath: ".status.phase" },
  { name: "Primary", type: "string", jsonPath: ".status.primary" },
  { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas" },
  { name: "Version", type: "string", jsonPath: ".status.currentVersion" },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** v1alpha1: the first shape of the API: a number of servers, a size and a backup schedule. Still served. */
const v1alpha1 = {
  spec: Type.Object({
    version: Type.String({ pattern: versionPattern }),
    replicas: Type.Integer({ minimum: 1, maximum: 9, description: "Servers: the primary and replicas - 1." }),
    storageSize: Type.String({ pattern: quantityPattern, default: "1Gi" }),
    backupSchedule: Type.Optional(Type.String({ pattern: schedulePattern })),
  }),
  status,
  printerColumns,
  deprecated: "db.example.com/v1alpha1 MySQLCluster is deprecated; use db.example.com/v1beta1",
};

/** An optional field with a default: the apiserver fills it in, and TypeScript objects may leave it out. */
const defaulted = <T extends TSchema>(schema: T) => Type.Optional(schema);

/** v1beta1, the storage version: read replicas with bounds for the autoscaler, and the day-2 settings. */
const v1beta1 = {
  spec: Type.Object({
    version: Type.String({
      pattern: versionPattern,
      description: "MySQL version (image tag). Changing it rolls the pods: read replicas first, the primary last.",
    }),
    readReplicas: defaulted(
      Type.Object(
        {
          min: defaulted(Type.Integer({ minimum: 0, maximum: 8, default: 1, description: "Read replicas at least." })),
          max: Type.Optional(
            Type.Integer({ minimum: 0, maximum: 8, description: "Read replicas at most (default: min)." }),
          ),
        },
        {
          default: {},
          ...cel("!has(self.max) || self.max >= self.min", "readReplicas.max must be at least readReplicas.min"),
        },
      ),
    ),
    storage: defaulted(
      Type.Object(
        {
          size: defaulted(
            Type.String({
              pattern: quantityPattern,
              default: "1Gi",
              ...cel("self == oldSelf", "storage.size cannot be changed: volume claim templates are fixed"),
            }),
          ),
          whenDeleted: defaulted(policy("What happens to the data volumes when the MySQLCluster is deleted.")),
          whenScaled: defaulted(policy("What happens to a read replica's data volume when it is scaled away.")),
        },
        { default: {} },
      ),
    ),
    config: Type.Optional(
      Type.Record(Type.String({ pattern: "^[a-z_]+$" }), Type.String(), {
        description: "[mysqld] settings of my.cnf (the ConfigMap `<name>-config`; edits by hand are put back).",
      }),
    ),
    podAnnotations: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: "Annotations of the pods (a change rolls them)." }),
    ),
    backup: defaulted(
      Type.Object(
        {
          schedule: Type.Optional(
            Type.String({
              pattern: schedulePattern,
              description: 'When to back up: cron ("0 2 * * *", "@daily"; six fields with seconds first).',
            }),
          ),
          keep: defaulted(
            Type.Integer({ minimum: 1, default: 7, description: "Scheduled backups kept (the newest)." }),
          ),
          timeoutSeconds: defaulted(
            Type.Integer({
              minimum: 1,
              default: 600,
              description: "An attempt not finished by then is taken as stuck, stopped and retried.",
            }),
          ),
          maxAttempts: defaulted(Type.Integer({ minimum: 1, default: 4 })),
          backoffSeconds: defaulted(
            Type.Integer({
              minimum: 1,
              default: 30,
              description: "Wait before the second attempt, doubled before each next one.",
            }),
          ),
        },
        { default: {} },
      ),
    ),
    upgrade: defaulted(
      Type.Object(
        {
          podReadyTimeoutSeconds: defaulted(
            Type.Integer({
              minimum: 1,
              default: 300,
              description: "A restarted pod not ready by then fails the rollout, which rolls back.",
            }),
          ),
          backupFirst: defaulted(
            Type.Boolean({ default: true, description: "Take a backup before a version change." }),
          ),
        },
        { default: {} },
      ),
    ),
    failover: defaulted(
      Type.Object(
        {
          primaryUnreadySeconds: defaulted(
            Type.Integer({
              minimum: 0,
              default: 10,
              description: "A primary not ready for this long is replaced (a deleted or failed one at once).",
            }),
          ),
        },
        { default: {} },
      ),
    ),
    autoscaling: Type.Optional(
      Type.Object(
        {
          targetLoadPerReplica: Type.Integer({ minimum: 1, description: "Queries per second one read replica takes." }),
          tolerancePercent: defaulted(Type.Integer({ minimum: 0, maximum: 100, default: 20 })),
          scaleUpAfterSeconds: defaulted(Type.Integer({ minimum: 0, default: 30 })),
          scaleDownAfterSeconds: defaulted(Type.Integer({ minimum: 0, default: 300 })),
        },
        { description: "Scale read replicas between min and max from their load, with hysteresis." },
      ),
    ),
  }),
  status,
  printerColumns,
  scale: { specReplicasPath: ".spec.readReplicas.min", statusReplicasPath: ".status.readReplicas" },
};

/**
 * db.example.com MySQLCluster: a MySQL primary and read replicas in a StatefulSet, with Services for writes
 * (`<name>`) and reads (`<name>-replicas`), generated credentials, backups, failover and autoscaling.
 */
export const MySQLCluster = defineResource({
  group,
  kind: "MySQLCluster",
  plural: "mysqlclusters",
  singular: "mysqlcluster",
  shortNames: ["myc"],
  categories: ["db"],
  description: "A replicated MySQL: one primary and read replicas, run at capability level 5.",
  versions: { v1alpha1, v1beta1 },
  storage: "v1beta1",
});
export type MySQLCluster = ObjectOf<typeof MySQLCluster>;
export type MySQLClusterV1alpha1 = ObjectOf<typeof MySQLCluster.versions.v1alpha1>;
export type ClusterStatus = NonNullable<MySQLCluster["status"]>;
