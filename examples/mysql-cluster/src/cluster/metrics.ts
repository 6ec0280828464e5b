import { metricCounter, metricGauge, type ObjectContext } from "converge-sdk";
import { type Phase, phases } from "../api/cluster.ts";

/**
 * Per-cluster metrics, labelled `namespace` and `name`. The age of the last backup is computed when Prometheus
 * scrapes (a value set at the last reconcile would stand still between reconciles); the timestamp is exported
 * too, for alerts that prefer `time() - x`.
 */

const base = ["cluster_namespace", "cluster"] as const;

/**
 * Labels of a cluster's series. Not `namespace`: Prometheus sets that one to the operator's own namespace when it
 * scrapes, and would rename ours to `exported_namespace`.
 */
type SeriesLabels = { cluster_namespace: string; cluster: string };
const seriesOf = (namespace: string, name: string): SeriesLabels => ({ cluster_namespace: namespace, cluster: name });

/** The manager's metrics registry, as a reconcile gets it. */
type Registry = ObjectContext["metrics"];

export const metricNames = {
  phase: "mysqlcluster_phase",
  replicas: "mysqlcluster_replicas",
  replicasReady: "mysqlcluster_replicas_ready",
  readReplicasWanted: "mysqlcluster_read_replicas_desired",
  primaryReady: "mysqlcluster_primary_ready",
  lastBackupTimestamp: "mysqlcluster_last_backup_timestamp_seconds",
  lastBackupAge: "mysqlcluster_last_backup_age_seconds",
  replicationLag: "mysqlcluster_replication_lag_seconds",
  loadPerReplica: "mysqlcluster_load_per_replica",
  failovers: "mysqlcluster_failovers_total",
  rolloutFailed: "mysqlcluster_rollout_failed",
  backupAttemptsFailed: "mysqlbackup_attempts_failed_total",
} as const;

/** Last backup times by registry (one per manager) and cluster, read at scrape time. */
const lastBackups = new WeakMap<Registry, Map<string, { labels: SeriesLabels; at: number }>>();

function lastBackupAge(registry: Registry) {
  let times = lastBackups.get(registry);
  if (!times) {
    const map = new Map<string, { labels: SeriesLabels; at: number }>();
    times = map;
    lastBackups.set(registry, map);
    metricGauge(registry, {
      name: metricNames.lastBackupAge,
      help: "Seconds since the newest completed backup of each cluster.",
      labelNames: base,
      collect() {
        this.reset();
        for (const { labels, at } of map.values()) this.set(labels, Math.max(0, (Date.now() - at) / 1000));
      },
    });
  }
  return times;
}

/** Pods whose lag was reported, by registry and cluster: their series go with the cluster. */
const lagPods = new WeakMap<Registry, Map<string, Set<string>>>();

/** Help texts of the per-cluster gauges (labelled by cluster only). */
const help: Record<string, string> = {
  [metricNames.replicas]: "Pods wanted: the primary and the read replicas.",
  [metricNames.replicasReady]: "Pods ready.",
  [metricNames.readReplicasWanted]: "Read replicas wanted (the autoscaler's decision).",
  [metricNames.primaryReady]: "1 when the primary pod is ready.",
  [metricNames.rolloutFailed]: "1 when the last rollout of the current spec failed and was rolled back.",
  [metricNames.loadPerReplica]: "Mean queries per second of the ready read replicas.",
  [metricNames.lastBackupTimestamp]: "Completion time of the newest backup (Unix seconds).",
  [metricNames.phase]: "1 for the phase each cluster is in, 0 for the others.",
  [metricNames.replicationLag]: "Seconds each replica is behind the primary, as its agent reports it.",
};

/** The gauges labelled by cluster only. */
const clusterGauges = [
  metricNames.replicas,
  metricNames.replicasReady,
  metricNames.readReplicasWanted,
  metricNames.primaryReady,
  metricNames.rolloutFailed,
  metricNames.loadPerReplica,
  metricNames.lastBackupTimestamp,
];

const clusterGauge = (registry: Registry, name: string) =>
  metricGauge(registry, { name, help: help[name] ?? name, labelNames: base });
const phaseGauge = (registry: Registry) =>
  metricGauge(registry, {
    name: metricNames.phase,
    help: help[metricNames.phase] ?? "",
    labelNames: [...base, "phase"],
  });
const lagGauge = (registry: Registry) =>
  metricGauge(registry, {
    name: metricNames.replicationLag,
    help: help[metricNames.replicationLag] ?? "",
    labelNames: [...base, "pod"],
  });

export interface ClusterObservation {
  namespace: string;
  name: string;
  phase: Phase;
  replicas: number;
  readyReplicas: number;
  readReplicasWanted: number;
  primaryReady: boolean;
  lastBackup: Date | undefined;
  lag: ReadonlyArray<{ pod: string; seconds: number }>;
  loadPerReplica: number | undefined;
  rolloutFailed: boolean;
}

export function recordCluster(registry: Registry, o: ClusterObservation): void {
  const labels = seriesOf(o.namespace, o.name);
  // The counters exist (at zero) from the first cluster on, so that rules on them see a series before any event.
  failovers(registry);
  failedAttempts(registry);
  for (const name of clusterGauges) clusterGauge(registry, name);
  const phase = phaseGauge(registry);
  for (const p of phases) phase.set({ ...labels, phase: p }, p === o.phase ? 1 : 0);
  clusterGauge(registry, metricNames.replicas).set(labels, o.replicas);
  clusterGauge(registry, metricNames.replicasReady).set(labels, o.readyReplicas);
  clusterGauge(registry, metricNames.readReplicasWanted).set(labels, o.readReplicasWanted);
  clusterGauge(registry, metricNames.primaryReady).set(labels, o.primaryReady ? 1 : 0);
  clusterGauge(registry, metricNames.rolloutFailed).set(labels, o.rolloutFailed ? 1 : 0);
  if (o.loadPerReplica !== undefined) clusterGauge(registry, metricNames.loadPerReplica).set(labels, o.loadPerReplica);
  const times = lastBackupAge(registry);
  if (o.lastBackup) {
    clusterGauge(registry, metricNames.lastBackupTimestamp).set(labels, o.lastBackup.getTime() / 1000);
    times.set(`${o.namespace}/${o.name}`, { labels, at: o.lastBackup.getTime() });
  }
  const lag = lagGauge(registry);
  let pods = lagPods.get(registry);
  if (!pods) {
    pods = new Map();
    lagPods.set(registry, pods);
  }
  const seen = pods.get(`${o.namespace}/${o.name}`) ?? new Set<string>();
  pods.set(`${o.namespace}/${o.name}`, seen);
  for (const pod of seen) if (!o.lag.some((l) => l.pod === pod)) lag.remove({ ...labels, pod });
  seen.clear();
  for (const l of o.lag) {
    lag.set({ ...labels, pod: l.pod }, l.seconds);
    seen.add(l.pod);
  }
}

const failovers = (registry: Registry) =>
  metricCounter(registry, {
    name: metricNames.failovers,
    help: "Promotions of a replica to primary, by reason (PrimaryFailed, Switchover).",
    labelNames: [...base, "reason"],
  });
const failedAttempts = (registry: Registry) =>
  metricCounter(registry, {
    name: metricNames.backupAttemptsFailed,
    help: "Backup attempts that failed or were stuck and were stopped.",
    labelNames: base,
  });

export function countFailover(registry: Registry, namespace: string, name: string, reason: string): void {
  failovers(registry).inc({ ...seriesOf(namespace, name), reason });
}

export function countFailedBackupAttempt(registry: Registry, namespace: string, cluster: string): void {
  failedAttempts(registry).inc(seriesOf(namespace, cluster));
}

/** Removes a deleted cluster's series. */
export function forgetCluster(registry: Registry, namespace: string, name: string): void {
  const labels = seriesOf(namespace, name);
  const key = `${namespace}/${name}`;
  lastBackups.get(registry)?.delete(key);
  for (const metricName of clusterGauges) clusterGauge(registry, metricName).remove(labels);
  const phase = phaseGauge(registry);
  for (const p of phases) phase.remove({ ...labels, phase: p });
  const lag = lagGauge(registry);
  for (const pod of lagPods.get(registry)?.get(key) ?? []) lag.remove({ ...labels, pod });
  lagPods.get(registry)?.delete(key);
}
