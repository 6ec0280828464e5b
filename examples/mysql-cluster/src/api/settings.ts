import type { MySQLCluster } from "./cluster.ts";

/**
 * A cluster's spec with every default filled in. The apiserver fills them in from the CRD on every stored object;
 * this is the same list for objects that did not come from it (unit tests), and the one place the code reads them.
 */
export function settingsOf(cluster: MySQLCluster) {
  const s = cluster.spec;
  const min = s.readReplicas?.min ?? 1;
  return {
    version: s.version,
    podAnnotations: s.podAnnotations,
    readReplicas: { min, max: Math.max(min, s.readReplicas?.max ?? min) },
    storage: {
      size: s.storage?.size ?? "1Gi",
      whenDeleted: s.storage?.whenDeleted ?? "Retain",
      whenScaled: s.storage?.whenScaled ?? "Retain",
    },
    backup: {
      schedule: s.backup?.schedule,
      keep: s.backup?.keep ?? 7,
      timeoutMs: (s.backup?.timeoutSeconds ?? 600) * 1000,
      maxAttempts: s.backup?.maxAttempts ?? 4,
      backoffSeconds: s.backup?.backoffSeconds ?? 30,
    },
    upgrade: {
      podReadyTimeoutMs: (s.upgrade?.podReadyTimeoutSeconds ?? 300) * 1000,
      backupFirst: s.upgrade?.backupFirst ?? true,
    },
    primaryUnreadyMs: (s.failover?.primaryUnreadySeconds ?? 10) * 1000,
    autoscaling: s.autoscaling
      ? {
          targetLoadPerReplica: s.autoscaling.targetLoadPerReplica,
          tolerancePercent: s.autoscaling.tolerancePercent ?? 20,
          scaleUpAfterMs: (s.autoscaling.scaleUpAfterSeconds ?? 30) * 1000,
          scaleDownAfterMs: (s.autoscaling.scaleDownAfterSeconds ?? 300) * 1000,
        }
      : undefined,
  };
}
export type Settings = ReturnType<typeof settingsOf>;
