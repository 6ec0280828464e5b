/**
 * Monitoring an operator, for operators that ask for it (`monitoring` in their definition):
 *
 * - `serviceMonitor`: a Prometheus Operator ServiceMonitor that scrapes the metrics Service (`<name>-metrics`, port
 *   `metrics`, `/metrics`): `config/prometheus/monitor.yaml`, kept out of `config/bundle.yaml` because applying it
 *   needs Prometheus Operator's CRD; and `templates/servicemonitor.yaml` in the chart, rendered only where the
 *   cluster serves monitoring.coreos.com/v1 (Helm's `.Capabilities`) and `metrics.serviceMonitor.enabled` is set;
 * - `dashboard`: a Grafana dashboard (`config/grafana/dashboard.json`) on the metric names the manager exports,
 *   which are controller-runtime's: reconcile rate, errors and duration per controller, work queues, API requests
 *   by status code, admission webhooks (when the operator has any), and process memory and CPU.
 *
 * The ServiceMonitor is typed and checked against Prometheus Operator's own schema (imported from its CRD).
 */
import { stringify } from "yaml";
import { hasWebhooks } from "../operator/webhooks.ts";
import { labelsFor, metricsServiceObject } from "./deploy.ts";
import { ServiceMonitor } from "./generated/monitoring.coreos.com_servicemonitors.ts";
import { fileHeader, type GenerateContext, type GeneratedFile, type Generator } from "./generator.ts";

/** Where the raw ServiceMonitor and the dashboard are written, relative to the project. */
export const monitoringPaths = {
  serviceMonitor: "config/prometheus/monitor.yaml",
  rules: "config/prometheus/rules.yaml",
  dashboard: "config/grafana/dashboard.json",
} as const;

/** The chart template of the PrometheusRule, relative to the chart folder. */
export const prometheusRuleTemplatePath = "templates/prometheusrule.yaml";

/** The chart template of the ServiceMonitor, relative to the chart folder. */
export const serviceMonitorTemplatePath = "templates/servicemonitor.yaml";

/** The API the ServiceMonitor needs: the chart renders it only where the cluster serves it. */
export const serviceMonitorApiVersion = "monitoring.coreos.com/v1";

/** The ServiceMonitor of the raw manifests, beside the metrics Service of `config/manager/manager.yaml`. */
export function serviceMonitorObject(ctx: GenerateContext): ServiceMonitor {
  const service = metricsServiceObject(ctx);
  return {
    apiVersion: serviceMonitorApiVersion,
    kind: "ServiceMonitor",
    metadata: { name: service.metadata?.name, namespace: ctx.namespace, labels: labelsFor(ctx) },
    spec: {
      // The Service's labels are also the webhook Service's: the port name picks the metrics one.
      selector: { matchLabels: labelsFor(ctx) },
      namespaceSelector: { matchNames: [ctx.namespace] },
      endpoints: [{ port: "metrics", path: "/metrics", scheme: "http" }],
    },
  };
}

/** Markers put into the chart's ServiceMonitor before it is printed, then replaced by template actions. */
const marker = {
  name: "__converge_monitor_name__",
  namespace: "__converge_monitor_namespace__",
  labels: "__converge_monitor_labels__",
  selector: "__converge_monitor_selector__",
  interval: "__converge_monitor_interval__",
};

/** The values the chart's ServiceMonitor reads: `metrics.serviceMonitor.*`. */
const values = ".Values.metrics.serviceMonitor";

/**
 * `templates/servicemonitor.yaml`: the same ServiceMonitor, named after the release's metrics Service and
 * selecting it by the release's labels, with the values' extra labels (what Prometheus's `serviceMonitorSelector`
 * looks for) and scrape interval. Nothing is rendered where monitoring.coreos.com/v1 is not served, so the chart
 * installs on clusters without Prometheus Operator.
 */
export function serviceMonitorTemplate(ctx: GenerateContext): string {
  const c = ctx.op.name;
  const base = serviceMonitorObject(ctx);
  const endpoint = { ...base.spec.endpoints?.[0], interval: marker.interval };
  const templated: ServiceMonitor = {
    ...base,
    metadata: { name: marker.name, namespace: marker.namespace, labels: { [marker.labels]: "" } },
    spec: {
      selector: { matchLabels: { [marker.selector]: "" } },
      namespaceSelector: { matchNames: [marker.namespace] },
      endpoints: [endpoint],
    },
  };
  const body = stringify(templated, { lineWidth: 0 })
    .replace(
      `    ${marker.labels}: ""`,
      `    {{- include "${c}.labels" . | nindent 4 }}\n    {{- with ${values}.labels }}\n    {{- toYaml . | nindent 4 }}\n    {{- end }}`,
    )
    .replace(`      ${marker.selector}: ""`, `      {{- include "${c}.selectorLabels" . | nindent 6 }}`)
    .replace(
      `      interval: ${marker.interval}`,
      `      {{- with ${values}.interval }}\n      interval: {{ . | quote }}\n      {{- end }}`,
    )
    .replaceAll(marker.name, `{{ include "${c}.metricsServiceName" . }}`)
    .replaceAll(marker.namespace, "{{ .Release.Namespace }}");
  return `${fileHeader}# Rendered where the cluster serves ${serviceMonitorApiVersion} (Prometheus Operator's CRDs) and metrics.serviceMonitor.enabled is true.
{{- if and .Values.metrics.enabled ${values}.enabled (.Capabilities.APIVersions.Has "${serviceMonitorApiVersion}") }}
${body}{{- end }}
`;
}

/** Refuses a ServiceMonitor that Prometheus Operator's schema would reject, naming the field. */
function checkServiceMonitor(obj: ServiceMonitor): void {
  const errors = ServiceMonitor.validate(obj);
  if (errors.length > 0) {
    throw new Error(`invalid ServiceMonitor: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
  }
}

// --- the Grafana dashboard ------------------------------------------------------------------------------------

/** One query of a panel: a PromQL expression and how its series are named. */
export interface DashboardTarget {
  expr: string;
  legendFormat: string;
  refId: string;
}

/** One time-series panel of the dashboard. */
export interface DashboardPanel {
  id: number;
  type: "timeseries";
  title: string;
  description: string;
  datasource: { type: "prometheus"; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig: { defaults: { unit: string; min?: number }; overrides: [] };
  options: { legend: { displayMode: "list"; placement: "bottom"; showLegend: true }; tooltip: { mode: "multi" } };
  targets: DashboardTarget[];
}

/** A Grafana dashboard, as Grafana imports it (JSON model). */
export interface GrafanaDashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  editable: boolean;
  schemaVersion: number;
  refresh: string;
  time: { from: string; to: string };
  templating: { list: Array<Record<string, unknown>> };
  panels: DashboardPanel[];
}

/** Every query is limited to the operator's scrape job in one namespace (the dashboard's variables). */
const selector = 'namespace="$namespace", job="$job"';
const datasource = { type: "prometheus", uid: "$datasource" } as const;

interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Array<[expr: string, legend: string]>;
}

function panels(ctx: GenerateContext): PanelSpec[] {
  const specs: PanelSpec[] = [
    {
      title: "Reconciles per second",
      description: "Reconciles by controller and result (success, error, requeue, requeue_after).",
      unit: "ops",
      queries: [
        [
          `sum by (controller, result) (rate(controller_runtime_reconcile_total{${selector}}[$__rate_interval]))`,
          "{{controller}} {{result}}",
        ],
      ],
    },
    {
      title: "Reconcile errors per second",
      description: "Reconciles that failed (retried with backoff), and terminal errors (not retried), by controller.",
      unit: "ops",
      queries: [
        [
          `sum by (controller) (rate(controller_runtime_reconcile_errors_total{${selector}}[$__rate_interval]))`,
          "{{controller}} errors",
        ],
        [
          `sum by (controller) (rate(controller_runtime_terminal_reconcile_errors_total{${selector}}[$__rate_interval]))`,
          "{{controller}} terminal",
        ],
      ],
    },
    {
      title: "Reconcile duration",
      description: "Median and 99th percentile of the time one reconcile takes, by controller.",
      unit: "s",
      queries: [0.5, 0.99].map((q): [string, string] => [
        `histogram_quantile(${q}, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket{${selector}}[$__rate_interval])))`,
        `{{controller}} p${Math.round(q * 100)}`,
      ]),
    },
    {
      title: "Work queue depth",
      description: "Keys waiting to be reconciled, by queue (one per controller).",
      unit: "short",
      queries: [[`sum by (name) (workqueue_depth{${selector}})`, "{{name}}"]],
    },
    {
      title: "Time in the work queue (p99)",
      description: "How long a key waits in the queue before a worker takes it, by queue.",
      unit: "s",
      queries: [
        [
          `histogram_quantile(0.99, sum by (name, le) (rate(workqueue_queue_duration_seconds_bucket{${selector}}[$__rate_interval])))`,
          "{{name}}",
        ],
      ],
    },
    {
      title: "Workers busy",
      description: "Reconciles running at once, against each controller's maximum.",
      unit: "short",
      queries: [
        [`sum by (controller) (controller_runtime_active_workers{${selector}})`, "{{controller}} active"],
        [`sum by (controller) (controller_runtime_max_concurrent_reconciles{${selector}})`, "{{controller}} max"],
      ],
    },
    {
      title: "API requests per second by status code",
      description: "Requests the operator makes to the Kubernetes API, by HTTP status code.",
      unit: "reqps",
      queries: [[`sum by (code) (rate(rest_client_requests_total{${selector}}[$__rate_interval]))`, "{{code}}"]],
    },
    {
      title: "API request latency (p99)",
      description: "99th percentile of the Kubernetes API's response time, by verb.",
      unit: "s",
      queries: [
        [
          `histogram_quantile(0.99, sum by (verb, le) (rate(rest_client_request_duration_seconds_bucket{${selector}}[$__rate_interval])))`,
          "{{verb}}",
        ],
      ],
    },
  ];
  if (hasWebhooks(ctx.op)) {
    specs.push(
      {
        title: "Webhook requests per second",
        description: "Admission and conversion requests served, by webhook and HTTP status code.",
        unit: "reqps",
        queries: [
          [
            `sum by (webhook, code) (rate(controller_runtime_webhook_requests_total{${selector}}[$__rate_interval]))`,
            "{{webhook}} {{code}}",
          ],
        ],
      },
      {
        title: "Webhook latency (p99)",
        description: "99th percentile of the time a webhook request takes, by webhook.",
        unit: "s",
        queries: [
          [
            `histogram_quantile(0.99, sum by (webhook, le) (rate(controller_runtime_webhook_latency_seconds_bucket{${selector}}[$__rate_interval])))`,
            "{{webhook}}",
          ],
        ],
      },
    );
  }
  for (const p of ctx.op.monitoring?.panels ?? []) {
    specs.push({ ...p, queries: p.queries.map((q): [string, string] => [q.expr, q.legend]) });
  }
  specs.push(
    {
      title: "Memory",
      description: "Resident memory and JavaScript heap in use, per pod.",
      unit: "bytes",
      queries: [
        [`sum by (pod) (process_resident_memory_bytes{${selector}})`, "{{pod}} resident"],
        [`sum by (pod) (nodejs_heap_size_used_bytes{${selector}})`, "{{pod}} heap"],
      ],
    },
    {
      title: "CPU",
      description: "CPU time used per second (1 = one core), per pod.",
      unit: "short",
      queries: [[`sum by (pod) (rate(process_cpu_seconds_total{${selector}}[$__rate_interval]))`, "{{pod}}"]],
    },
  );
  return specs;
}

/** A dashboard variable whose values come from a label of the operator's metrics. */
function labelVariable(name: string, label: string, query: string, current: string): Record<string, unknown> {
  return {
    name,
    label,
    type: "query",
    datasource,
    query: { query, refId: `${name}-values` },
    definition: query,
    refresh: 2,
    sort: 1,
    current: { text: current, value: current },
  };
}

/**
 * The Grafana dashboard of an operator: two panels a row, in the order above. Its variables pick the Prometheus
 * data source, the namespace and the scrape job (by default those of the raw manifests: `<name>-system` and the
 * `<name>-metrics` Service, which is what the ServiceMonitor's job is called).
 */
export function dashboard(ctx: GenerateContext): GrafanaDashboard {
  const job = metricsServiceObject(ctx).metadata?.name ?? "";
  const width = 12;
  const height = 8;
  return {
    uid: ctx.op.name.slice(0, 40),
    title: ctx.op.name,
    description: `Controllers of ${ctx.op.name}: reconciles, work queues, API requests and resources. Generated by \`converge generate\`.`,
    tags: ["converge", "operator", "controller-runtime"],
    editable: true,
    schemaVersion: 39,
    refresh: "30s",
    time: { from: "now-1h", to: "now" },
    templating: {
      list: [
        { name: "datasource", label: "Data source", type: "datasource", query: "prometheus", refresh: 1 },
        labelVariable(
          "namespace",
          "Namespace",
          "label_values(controller_runtime_reconcile_total, namespace)",
          ctx.namespace,
        ),
        labelVariable(
          "job",
          "Job",
          'label_values(controller_runtime_reconcile_total{namespace="$namespace"}, job)',
          job,
        ),
      ],
    },
    panels: panels(ctx).map((p, i) => ({
      id: i + 1,
      type: "timeseries",
      title: p.title,
      description: p.description,
      datasource,
      gridPos: { x: (i % 2) * width, y: Math.floor(i / 2) * height, w: width, h: height },
      fieldConfig: { defaults: { unit: p.unit, min: 0 }, overrides: [] },
      options: { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi" } },
      targets: p.queries.map(([expr, legendFormat], j) => ({ expr, legendFormat, refId: String.fromCharCode(65 + j) })),
    })),
  };
}

/**
 * JSON laid out as Biome (and Prettier) lay it out, so that formatting the project changes nothing: objects one key
 * a line, arrays of scalars on one line when they fit in 120 columns.
 */
export function formatJson(value: unknown, indent = "", column = 0): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((v) => v === null || typeof v !== "object")) {
      const line = `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
      if (column + line.length <= 120) return line;
    }
    return `[\n${value.map((v) => inner + formatJson(v, inner, inner.length)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  const lines = entries.map(([k, v]) => {
    const key = `${JSON.stringify(k)}: `;
    // A trailing comma may follow: one column less for the value.
    return inner + key + formatJson(v, inner, inner.length + key.length + 1);
  });
  return `{\n${lines.join(",\n")}\n${indent}}`;
}

// --- alerting rules -------------------------------------------------------------------------------------------

/** A PrometheusRule (monitoring.coreos.com/v1) holding an operator's alerts in one group named after it. */
export interface PrometheusRule {
  apiVersion: "monitoring.coreos.com/v1";
  kind: "PrometheusRule";
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: {
    groups: Array<{
      name: string;
      rules: Array<{
        alert: string;
        expr: string;
        for?: string;
        labels: Record<string, string>;
        annotations: Record<string, string>;
      }>;
    }>;
  };
}

/** The PrometheusRule of the raw manifests: `<name>-alerts` in the operator's namespace. */
export function prometheusRuleObject(ctx: GenerateContext): PrometheusRule {
  const alerts = ctx.op.monitoring?.alerts ?? [];
  return {
    apiVersion: serviceMonitorApiVersion,
    kind: "PrometheusRule",
    metadata: { name: `${ctx.op.name}-alerts`, namespace: ctx.namespace, labels: labelsFor(ctx) },
    spec: {
      groups: [
        {
          name: ctx.op.name,
          rules: alerts.map((a) => ({
            alert: a.alert,
            expr: a.expr,
            ...(a.for ? { for: a.for } : {}),
            labels: { severity: a.severity },
            annotations: { summary: a.summary, description: a.description },
          })),
        },
      ],
    },
  };
}

/**
 * `templates/prometheusrule.yaml`: the same rules in the release's namespace with the release's labels (and the
 * values' extra labels, which Prometheus's `ruleSelector` looks for), where the cluster serves
 * monitoring.coreos.com/v1 and `metrics.prometheusRule.enabled` is true. Go template actions in the rules' text
 * (`{{ $labels.x }}`) are kept for Prometheus, not run by Helm.
 */
export function prometheusRuleTemplate(ctx: GenerateContext): string {
  const c = ctx.op.name;
  const base = prometheusRuleObject(ctx);
  const body = stringify(
    { ...base, metadata: { name: marker.name, namespace: marker.namespace, labels: { [marker.labels]: "" } } },
    { lineWidth: 0 },
  )
    // Prometheus's own templates pass through Helm as literal text.
    .replace(/\{\{(.*?)\}\}/g, (_, inner: string) => `{{\`{{${inner}}}\`}}`)
    .replace(
      `    ${marker.labels}: ""`,
      `    {{- include "${c}.labels" . | nindent 4 }}\n    {{- with .Values.metrics.prometheusRule.labels }}\n    {{- toYaml . | nindent 4 }}\n    {{- end }}`,
    )
    .replaceAll(marker.name, `{{ include "${c}.fullname" . }}-alerts`)
    .replaceAll(marker.namespace, "{{ .Release.Namespace }}");
  return `${fileHeader}# Rendered where the cluster serves ${serviceMonitorApiVersion} (Prometheus Operator's CRDs) and metrics.prometheusRule.enabled is true.
{{- if and .Values.metrics.prometheusRule.enabled (.Capabilities.APIVersions.Has "${serviceMonitorApiVersion}") }}
${body}{{- end }}
`;
}

/** The files of the monitoring generator (none for an operator that asks for no monitoring). */
export function monitoringFiles(ctx: GenerateContext): GeneratedFile[] {
  const files: GeneratedFile[] = [];
  const wanted = ctx.op.monitoring ?? {};
  if (wanted.serviceMonitor) {
    const monitor = serviceMonitorObject(ctx);
    checkServiceMonitor(monitor);
    files.push(
      {
        path: monitoringPaths.serviceMonitor,
        content: `${fileHeader}# Needs Prometheus Operator's ServiceMonitor CRD (${serviceMonitorApiVersion}): apply it only where that is installed.\n${stringify(monitor, { lineWidth: 0 })}`,
      },
      { path: `charts/${ctx.op.name}/${serviceMonitorTemplatePath}`, content: serviceMonitorTemplate(ctx) },
    );
  }
  if (wanted.alerts?.length) {
    files.push(
      {
        path: monitoringPaths.rules,
        content: `${fileHeader}# Needs Prometheus Operator's PrometheusRule CRD (${serviceMonitorApiVersion}): apply it only where that is installed.\n${stringify(prometheusRuleObject(ctx), { lineWidth: 0 })}`,
      },
      { path: `charts/${ctx.op.name}/${prometheusRuleTemplatePath}`, content: prometheusRuleTemplate(ctx) },
    );
  }
  if (wanted.dashboard) {
    files.push({ path: monitoringPaths.dashboard, content: `${formatJson(dashboard(ctx))}\n` });
  }
  return files;
}

/** Writes what `monitoring` asks for: see the top of this module. */
export const monitoringGenerator: Generator = { name: "monitoring", generate: monitoringFiles };
