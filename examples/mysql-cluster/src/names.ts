/** Names and labels of the objects a MySQLCluster has, in one place (the tests and the README use them too). */

export const labels = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  managedBy: "app.kubernetes.io/managed-by",
  component: "app.kubernetes.io/component",
  /** `primary` or `replica`, on each pod: the read Service selects replicas by it. */
  role: "db.example.com/role",
  /** On backups and their Jobs: the cluster they belong to. */
  cluster: "db.example.com/cluster",
  /** On backups: why they were taken. */
  backupReason: "db.example.com/backup-reason",
  /** On restores' objects. */
  restore: "db.example.com/restore",
  /** Set by the StatefulSet controller on each of its pods. */
  podName: "statefulset.kubernetes.io/pod-name",
  revision: "controller-revision-hash",
} as const;

export const managedBy = { [labels.managedBy]: "mysql-cluster-operator" };

/**
 * What the database agent beside each server reports about it, as pod annotations. A real deployment runs an agent
 * sidecar that writes them (or the operator reads them from Prometheus); on the local plane no database runs and the
 * tests write them: they are the simulated part of the observations, and the only one.
 */
export const observed = {
  /** Queries per second this server answers. */
  load: "agent.db.example.com/queries-per-second",
  /** Seconds this replica's data is behind the primary. */
  lag: "agent.db.example.com/replication-lag-seconds",
} as const;

/** The revision of the pod template a pod was made from (a hash of what restarts a pod when it changes). */
export const revisionAnnotation = "db.example.com/revision";

export const names = (cluster: string) => ({
  statefulSet: cluster,
  /** Writes: selects the primary pod by name. */
  primaryService: cluster,
  /** Reads: selects the pods labelled replica. */
  replicaService: `${cluster}-replicas`,
  /** The StatefulSet's governing Service (pod DNS names). */
  headlessService: `${cluster}-pods`,
  config: `${cluster}-config`,
  credentials: `${cluster}-credentials`,
  /** Who is primary, for the agents: a real agent re-points replication from it. */
  topology: `${cluster}-topology`,
  backups: `${cluster}-backups`,
  pod: (ordinal: number) => `${cluster}-${ordinal}`,
  /** The data volume of pod `ordinal`, as the StatefulSet's claim template names it. */
  dataVolume: (ordinal: number) => `data-${cluster}-${ordinal}`,
});

export const selectorLabels = (cluster: string) => ({
  [labels.name]: "mysql",
  [labels.instance]: cluster,
  ...managedBy,
});

/** The ordinal of a StatefulSet pod (`db-2` → 2); -1 for another name. */
export function ordinalOf(cluster: string, pod: string): number {
  const prefix = `${cluster}-`;
  if (!pod.startsWith(prefix)) return -1;
  const rest = pod.slice(prefix.length);
  return /^[0-9]+$/.test(rest) ? Number(rest) : -1;
}
