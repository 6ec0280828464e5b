import type { AlertRule, MetricPanel } from "converge-sdk";
import { metricNames } from "./cluster/metrics.ts";

const m = metricNames;

/** The scrape target the dashboard's variables choose (the operator's metrics Service). */
const job = 'namespace="$namespace", job="$job"';
const by = "cluster_namespace, cluster";

/** Per-cluster panels, after the generated controller panels of the dashboard (config/grafana/dashboard.json). */
export const panels: MetricPanel[] = [
  {
    title: "MySQL clusters by phase",
    description: "How many clusters are in each phase (Ready, Upgrading, FailingOver, Degraded, ...).",
    unit: "short",
    queries: [{ expr: `sum by (phase) (${m.phase}{${job}})`, legend: "{{phase}}" }],
  },
  {
    title: "Pods ready and wanted",
    description: "Ready pods against pods wanted (the primary and the read replicas), per cluster.",
    unit: "short",
    queries: [
      { expr: `sum by (${by}) (${m.replicasReady}{${job}})`, legend: "{{cluster}} ready" },
      { expr: `sum by (${by}) (${m.replicas}{${job}})`, legend: "{{cluster}} wanted" },
    ],
  },
  {
    title: "Replication lag",
    description: "Seconds each replica is behind its primary.",
    unit: "s",
    queries: [{ expr: `max by (${by}, pod) (${m.replicationLag}{${job}})`, legend: "{{cluster}}/{{pod}}" }],
  },
  {
    title: "Age of the last backup",
    description: "Time since the newest completed backup, per cluster.",
    unit: "s",
    queries: [{ expr: `max by (${by}) (${m.lastBackupAge}{${job}})`, legend: "{{cluster}}" }],
  },
  {
    title: "Load and read replicas",
    description: "Queries per second per read replica (what the autoscaler reads) and the read replicas it wants.",
    unit: "short",
    queries: [
      { expr: `max by (${by}) (${m.loadPerReplica}{${job}})`, legend: "{{cluster}} load/replica" },
      { expr: `max by (${by}) (${m.readReplicasWanted}{${job}})`, legend: "{{cluster}} read replicas" },
    ],
  },
  {
    title: "Failovers and failed backup attempts",
    description: "Promotions by reason, and backup attempts stopped (failed or stuck), over the last hour.",
    unit: "short",
    queries: [
      { expr: `sum by (${by}, reason) (increase(${m.failovers}{${job}}[1h]))`, legend: "{{cluster}} {{reason}}" },
      { expr: `sum by (${by}) (increase(${m.backupAttemptsFailed}{${job}}[1h]))`, legend: "{{cluster}} backups" },
    ],
  },
];

const where = "{{ $labels.cluster_namespace }}/{{ $labels.cluster }}";

/** Alerts on the same metrics (config/prometheus/rules.yaml, and the chart's PrometheusRule). */
export const alerts: AlertRule[] = [
  {
    alert: "MySQLClusterPrimaryDown",
    expr: `${m.primaryReady} == 0`,
    for: "1m",
    severity: "critical",
    summary: `MySQL cluster ${where} has no ready primary`,
    description: "Writes fail. The operator promotes a ready replica; if none is ready it cannot.",
  },
  {
    alert: "MySQLClusterDegraded",
    expr: `${m.phase}{phase="Degraded"} == 1`,
    for: "10m",
    severity: "warning",
    summary: `MySQL cluster ${where} is degraded`,
    description: "Pods are not ready, or the spec's version failed to roll out and was rolled back: see its status.",
  },
  {
    alert: "MySQLClusterRolloutFailed",
    expr: `${m.rolloutFailed} == 1`,
    severity: "warning",
    summary: `An upgrade of MySQL cluster ${where} failed and was rolled back`,
    description: "The status's failedRevision says which pod did not become ready.",
  },
  {
    alert: "MySQLClusterReplicationLag",
    expr: `${m.replicationLag} > 30`,
    for: "5m",
    severity: "warning",
    summary: `Replica {{ $labels.pod }} of ${where} is {{ $value }}s behind`,
    description: "Reads from it are stale; a failover to it would lose the missing transactions' wait.",
  },
  {
    alert: "MySQLClusterBackupTooOld",
    expr: `${m.lastBackupAge} > 36 * 3600`,
    severity: "warning",
    summary: `The last backup of ${where} is older than 36 hours`,
    description: "Scheduled backups are failing or not scheduled.",
  },
  {
    alert: "MySQLClusterFailover",
    expr: `increase(${m.failovers}[10m]) > 0`,
    severity: "info",
    summary: `MySQL cluster ${where} promoted a new primary`,
    description: "A replica was promoted ({{ $labels.reason }}).",
  },
  {
    alert: "MySQLBackupAttemptsFailing",
    expr: `increase(${m.backupAttemptsFailed}[1h]) > 2`,
    severity: "warning",
    summary: `Backups of ${where} keep failing or getting stuck`,
    description: "Backup attempts are retried with backoff; look at the MySQLBackups' status.",
  },
];
