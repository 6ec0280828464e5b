import { defineConversion, stash, unstash } from "converge-sdk";
import { MySQLCluster, type MySQLClusterV1alpha1 } from "./api/cluster.ts";

/** What v1beta1 has and v1alpha1 cannot say, kept in an annotation on the way down (`stash`). */
type Stashed = Omit<MySQLCluster["spec"], "version" | "storage" | "backup"> & {
  readReplicasMax?: number;
  storage?: Omit<NonNullable<MySQLCluster["spec"]["storage"]>, "size">;
  backup?: Omit<NonNullable<MySQLCluster["spec"]["backup"]>, "schedule">;
};

/** v1alpha1 → v1beta1: `replicas` servers are a primary and `replicas - 1` read replicas. */
export function toV1beta1(old: MySQLClusterV1alpha1): MySQLCluster {
  const { object, data } = unstash<Stashed, MySQLClusterV1alpha1>(old);
  const { readReplicasMax, storage, backup, ...rest } = data ?? {};
  const min = Math.max(0, old.spec.replicas - 1);
  return {
    metadata: object.metadata,
    spec: {
      ...rest,
      version: old.spec.version,
      readReplicas: {
        min,
        ...(readReplicasMax !== undefined && readReplicasMax >= min ? { max: readReplicasMax } : {}),
      },
      storage: { ...storage, size: old.spec.storageSize },
      ...(old.spec.backupSchedule !== undefined || backup
        ? {
            backup: {
              ...backup,
              ...(old.spec.backupSchedule !== undefined ? { schedule: old.spec.backupSchedule } : {}),
            },
          }
        : {}),
    },
    ...(object.status ? { status: object.status } : {}),
  };
}

/** v1beta1 → v1alpha1: the bounds, policies and day-2 settings go into the stash. */
export function toV1alpha1(hub: MySQLCluster): MySQLClusterV1alpha1 {
  const { version, readReplicas, storage, backup, ...rest } = hub.spec;
  const { size, ...storagePolicies } = storage ?? {};
  const { schedule, ...backupSettings } = backup ?? {};
  const stashed: Stashed = {
    ...rest,
    ...(readReplicas?.max !== undefined ? { readReplicasMax: readReplicas.max } : {}),
    ...(Object.keys(storagePolicies).length ? { storage: storagePolicies } : {}),
    ...(Object.keys(backupSettings).length ? { backup: backupSettings } : {}),
  };
  const down: MySQLClusterV1alpha1 = {
    metadata: hub.metadata,
    spec: {
      version,
      replicas: 1 + (readReplicas?.min ?? 1),
      storageSize: size ?? "1Gi",
      ...(schedule !== undefined ? { backupSchedule: schedule } : {}),
    },
    ...(hub.status ? { status: hub.status } : {}),
  };
  return Object.keys(stashed).length ? stash(down, stashed) : down;
}

/**
 * MySQLCluster v1alpha1 ↔ v1beta1, served by the operator's conversion webhook: the apiserver calls it whenever
 * an object is read or written in the version it is not stored in, and a round trip loses nothing.
 */
export const clusterConversion = defineConversion(MySQLCluster, {
  hub: "v1beta1",
  spokes: { v1alpha1: { toHub: toV1beta1, fromHub: toV1alpha1 } },
});
