/**
 * Level 4, deep insights: per-cluster metrics from a running operator, alerts (a PrometheusRule the apiserver
 * accepts with Prometheus Operator's CRD) and dashboard panels on exactly those metrics, an Event on every phase
 * change, and conditions `kubectl wait` can wait on.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { apiextensionsv1, corev1, type KubeObject } from "converge-sdk";
import { waitForCrds } from "converge-sdk/runtime";
import { eventually } from "converge-sdk/testing";
import { parse, parseAllDocuments, stringify } from "yaml";
import { MySQLBackup } from "../src/api/backup.ts";
import { MySQLCluster } from "../src/api/cluster.ts";
import { labels, observed } from "../src/names.ts";
import {
  client,
  clusterWhen,
  eventsOf,
  isReady,
  plane,
  readyCluster,
  recordChanges,
  smallCluster,
  startOperator,
} from "./helpers.ts";

const project = fileURLToPath(new URL("..", import.meta.url));

/** `name{labels} value` lines of a scrape, by metric name and label text. */
const sample = (text: string, name: string, labelText: string) =>
  new RegExp(`^${name}\\{[^}]*${labelText}[^}]*\\} (\\S+)$`, "m").exec(text)?.[1];

test("level 4: per-cluster metrics, alerts and dashboard on exactly them; an Event on every phase change; kubectl wait", async (t) => {
  const namespace = await plane.namespace(t);
  const { manager } = await startOperator(t, namespace);
  const phases = await recordChanges(MySQLCluster, namespace, (c) => c.status?.phase);
  t.after(() => phases.stop());
  await client.create(
    MySQLCluster,
    smallCluster(namespace, "seen", { autoscaling: { targetLoadPerReplica: 100 }, readReplicas: { min: 2, max: 2 } }),
  );
  await readyCluster(namespace, "seen");
  await client.patch(corev1.Pod, { namespace, name: "seen-1" }, "merge", {
    metadata: { annotations: { [observed.lag]: "4", [observed.load]: "90" } },
  });
  await client.patch(corev1.Pod, { namespace, name: "seen-2" }, "merge", {
    metadata: { annotations: { [observed.lag]: "7", [observed.load]: "110" } },
  });
  await client.create(MySQLBackup, {
    metadata: { name: "b1", namespace, labels: { [labels.cluster]: "seen" } },
    spec: { cluster: "seen" },
  });
  await clusterWhen(namespace, "seen", (c) => c.status?.lastBackup?.name === "b1", "the backup seen");

  // Metrics, as Prometheus would scrape them from the operator.
  const scrape = () => manager.metrics.registry.metrics();
  const series = `cluster_namespace="${namespace}",cluster="seen"`;
  const text = await eventually("the lag and load in the metrics", async () => {
    const t = await scrape();
    return sample(t, "mysqlcluster_replication_lag_seconds", `${series},pod="seen-2"`) === "7" ? t : undefined;
  });
  assert.equal(sample(text, "mysqlcluster_phase", `${series},phase="Ready"`), "1");
  assert.equal(sample(text, "mysqlcluster_phase", `${series},phase="Degraded"`), "0");
  assert.equal(sample(text, "mysqlcluster_replicas_ready", series), "3");
  assert.equal(sample(text, "mysqlcluster_primary_ready", series), "1");
  assert.equal(sample(text, "mysqlcluster_replication_lag_seconds", `${series},pod="seen-1"`), "4");
  assert.equal(sample(text, "mysqlcluster_load_per_replica", series), "100");
  const age = Number(sample(text, "mysqlcluster_last_backup_age_seconds", series));
  assert.ok(age >= 0 && age < 60, `last backup age ${age}`);

  // Every metric the alerts and dashboard panels name is one the operator exports.
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const rules = parse(await readFile(join(project, "config/prometheus/rules.yaml"), "utf8")) as KubeObject & {
    spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  };
  const dashboard = JSON.parse(await readFile(join(project, "config/grafana/dashboard.json"), "utf8")) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const exprs = [
    ...(rules.spec.groups[0]?.rules ?? []).map((r) => r.expr),
    ...dashboard.panels.flatMap((p) => p.targets.map((x) => x.expr)),
  ];
  const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\bmysql(?:cluster|backup)_[a-z_]+/g)].map((m) => m[0])));
  assert.ok(named.size >= 10, [...named].join(", "));
  for (const name of named) assert.ok(exported.has(name), `${name} is not exported`);
  assert.deepEqual(
    rules.spec.groups[0]?.rules.map((r) => r.alert),
    [
      "MySQLClusterPrimaryDown",
      "MySQLClusterDegraded",
      "MySQLClusterRolloutFailed",
      "MySQLClusterReplicationLag",
      "MySQLClusterBackupTooOld",
      "MySQLClusterFailover",
      "MySQLBackupAttemptsFailing",
    ],
  );

  // A failover: its phase, its Events, its counter.
  await client.delete(corev1.Pod, { namespace, name: "seen-0" });
  await clusterWhen(namespace, "seen", (c) => c.status?.primary !== "seen-0" && isReady(c), "failed over and Ready");
  assert.equal(sample(await scrape(), "mysqlcluster_failovers_total", `${series},reason="PrimaryFailed"`), "1");
  // kubectl waits on the conditions.
  const waited = await plane.kubectl([
    "wait",
    "-n",
    namespace,
    "--for=condition=PrimaryAvailable",
    "--for=condition=Progressing=False",
    "mysqlcluster/seen",
    "--timeout=30s",
  ]);
  assert.equal(waited.code, 0, waited.stderr);

  // Every phase the cluster went through has its Event.
  assert.ok(phases.seen.includes("FailingOver"), `seen: ${phases.seen.join(" → ")}`);
  const transitions = phases.seen.map((p, i) => `${i === 0 ? "New" : phases.seen[i - 1]} → ${p}`);
  await eventually(`an Event for each of ${transitions.join(", ")}`, async () => {
    const notes = (await eventsOf(namespace, "PhaseChanged")).map((e) => e.note ?? "");
    return transitions.every((tr) => notes.some((n) => n.startsWith(`${tr}:`)));
  });
});

test("level 4: the PrometheusRule, raw and from the chart, is accepted by the apiserver with Prometheus Operator's CRD", async (t) => {
  const crd = parse(
    await readFile(
      join(project, "..", "..", "third_party", "crds", "monitoring.coreos.com_prometheusrules.yaml"),
      "utf8",
    ),
  ) as apiextensionsv1.CustomResourceDefinition;
  await client.apply(apiextensionsv1.CustomResourceDefinition, crd, {
    force: true,
    fieldManager: "prometheus-operator",
  });
  await waitForCrds(client, ["prometheusrules.monitoring.coreos.com"]);
  const namespace = await plane.namespace(t);
  const raw = parse(await readFile(join(project, "config/prometheus/rules.yaml"), "utf8")) as KubeObject;
  const dryRun = (obj: KubeObject) =>
    plane.kubectl(
      ["apply", "--server-side", "--dry-run=server", "--validate=strict", "--field-manager=test", "-f", "-"],
      stringify(obj),
    );
  const accepted = await dryRun({ ...raw, metadata: { ...raw.metadata, namespace } });
  assert.equal(accepted.code, 0, accepted.stderr);
  // The apiserver does refuse what the schema forbids, so the acceptance means something.
  const refused = await dryRun({
    ...raw,
    metadata: { ...raw.metadata, namespace },
    spec: { groups: [{ rules: [{ alert: 1 }] }] },
  } as KubeObject);
  assert.notEqual(refused.code, 0);

  const { ensureBinaries } = await import("converge-sdk/cluster");
  const { helm } = await ensureBinaries(["helm"]);
  const { execFile } = await import("node:child_process");
  const rendered = await new Promise<string>((resolve, reject) =>
    execFile(
      helm?.path ?? "helm",
      [
        "template",
        "db",
        join(project, "charts", "mysql-cluster-operator"),
        "--namespace",
        namespace,
        "--api-versions",
        "monitoring.coreos.com/v1",
      ],
      { maxBuffer: 16 << 20 },
      (err, out, errOut) => (err ? reject(new Error(errOut)) : resolve(out)),
    ),
  );
  const fromChart = parseAllDocuments(rendered)
    .map((d) => d.toJS() as KubeObject | null)
    .find((o) => o?.kind === "PrometheusRule");
  assert.ok(fromChart, "the chart renders the PrometheusRule where the API is served");
  const chartAccepted = await dryRun(fromChart);
  assert.equal(chartAccepted.code, 0, chartAccepted.stderr);
  assert.match(
    stringify(fromChart, { lineWidth: 0 }),
    /summary: MySQL cluster \{\{ \$labels\.cluster_namespace \}\}\/\{\{ \$labels\.cluster \}\} has no ready primary/,
  );
});
