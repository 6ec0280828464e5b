import type { appsv1, corev1, Desired, Live } from "converge-sdk";
import type { MySQLCluster } from "../api/cluster.ts";
import { settingsOf } from "../api/settings.ts";
import { labels, names, revisionAnnotation, selectorLabels } from "../names.ts";
import type { RevisionInputs } from "./rollout.ts";

/** Keys of the credentials Secret. */
export const secretKeys = { rootPassword: "root-password", replicationPassword: "replication-password" } as const;

const port = 3306;

/** Settings every server gets (GTID replication, the replica safe to promote); `spec.config` adds and overrides. */
const baseConfig: Record<string, string> = {
  gtid_mode: "ON",
  enforce_gtid_consistency: "ON",
  log_replica_updates: "ON",
  read_only: "ON",
  skip_name_resolve: "ON",
};

/** my.cnf from the base settings and `spec.config`, in a stable order. */
export function myCnf(cluster: Live<MySQLCluster>): string {
  const settings = { ...baseConfig, ...(cluster.spec.config ?? {}) };
  const lines = Object.keys(settings)
    .sort()
    .map((k) => `${k} = ${settings[k]}`);
  return `[mysqld]\n${lines.join("\n")}\n`;
}

export function configMapFor(cluster: Live<MySQLCluster>): Desired<corev1.ConfigMap> {
  const n = names(cluster.metadata.name);
  return {
    metadata: { name: n.config, labels: selectorLabels(cluster.metadata.name) },
    data: { "my.cnf": myCnf(cluster) },
  };
}

/** Who is primary, for the agent beside each server: it points replication at the primary (read_only off there). */
export function topologyFor(
  cluster: Live<MySQLCluster>,
  primary: string,
  replicas: string[],
): Desired<corev1.ConfigMap> {
  const n = names(cluster.metadata.name);
  return {
    metadata: { name: n.topology, labels: selectorLabels(cluster.metadata.name) },
    data: { primary, replicas: replicas.join(","), source: `${primary}.${n.headlessService}:${port}` },
  };
}

/**
 * The StatefulSet: `replicas` pods of the revision `inputs`. OnDelete, so that the operator chooses which pod
 * restarts when (see rollout.ts); Parallel, so that a pod that does not become ready does not hold the others back
 * (the operator does the ordering); one data volume per pod from the claim template, kept or deleted as
 * `spec.storage` says.
 */
export function statefulSetFor(
  cluster: Live<MySQLCluster>,
  replicas: number,
  inputs: RevisionInputs,
  revision: string,
): Desired<appsv1.StatefulSet> {
  const n = names(cluster.metadata.name);
  const select = selectorLabels(cluster.metadata.name);
  const { size, whenDeleted, whenScaled } = settingsOf(cluster).storage;
  const secretEnv = (name: string, key: string): corev1.EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: n.credentials, key } },
  });
  return {
    metadata: { name: n.statefulSet, labels: select },
    spec: {
      replicas,
      serviceName: n.headlessService,
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "OnDelete" },
      selector: { matchLabels: select },
      persistentVolumeClaimRetentionPolicy: { whenDeleted, whenScaled },
      template: {
        metadata: {
          labels: select,
          annotations: { ...(inputs.podAnnotations ?? {}), [revisionAnnotation]: revision },
        },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: "mysql",
              image: `mysql:${inputs.version}`,
              ports: [{ name: "mysql", containerPort: port }],
              env: [
                secretEnv("MYSQL_ROOT_PASSWORD", secretKeys.rootPassword),
                secretEnv("MYSQL_REPLICATION_PASSWORD", secretKeys.replicationPassword),
              ],
              readinessProbe: {
                exec: { command: ["sh", "-c", 'mysqladmin ping -uroot -p"$MYSQL_ROOT_PASSWORD"'] },
                periodSeconds: 5,
              },
              volumeMounts: [
                { name: "data", mountPath: "/var/lib/mysql" },
                { name: "config", mountPath: "/etc/mysql/conf.d" },
              ],
            },
          ],
          volumes: [{ name: "config", configMap: { name: n.config } }],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: "data", labels: select },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } } },
        },
      ],
    },
  };
}

/** Writes: the primary, chosen by pod name (a new pod is never selected by accident before it has its role). */
export function primaryServiceFor(cluster: Live<MySQLCluster>, primary: string): Desired<corev1.Service> {
  const n = names(cluster.metadata.name);
  return {
    metadata: {
      name: n.primaryService,
      labels: { ...selectorLabels(cluster.metadata.name), [labels.component]: "primary" },
    },
    spec: {
      selector: { ...selectorLabels(cluster.metadata.name), [labels.podName]: primary },
      ports: [{ name: "mysql", port, targetPort: port }],
    },
  };
}

/** Reads: every pod labelled replica. */
export function replicaServiceFor(cluster: Live<MySQLCluster>): Desired<corev1.Service> {
  const n = names(cluster.metadata.name);
  return {
    metadata: {
      name: n.replicaService,
      labels: { ...selectorLabels(cluster.metadata.name), [labels.component]: "replicas" },
    },
    spec: {
      selector: { ...selectorLabels(cluster.metadata.name), [labels.role]: "replica" },
      ports: [{ name: "mysql", port, targetPort: port }],
    },
  };
}

/** The StatefulSet's governing Service: stable DNS names for the pods, ready or not (replication needs them). */
export function headlessServiceFor(cluster: Live<MySQLCluster>): Desired<corev1.Service> {
  const n = names(cluster.metadata.name);
  return {
    metadata: { name: n.headlessService, labels: selectorLabels(cluster.metadata.name) },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster.metadata.name),
      ports: [{ name: "mysql", port, targetPort: port }],
    },
  };
}
