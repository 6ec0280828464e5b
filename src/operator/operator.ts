import type { KubeClient } from "../client/api.ts";
import type { ControllerDefinition } from "../controller/builder.ts";
import type { ResourceDefinition, VersionDefinition } from "../definition/define.ts";
import { Manager, type ManagerOptions } from "../manager/manager.ts";
import * as apiextensionsv1 from "../types/generated/apiextensions.v1.ts";
import type { PolicyRule } from "../types/generated/rbac.v1.ts";
import type { AdmissionWebhook } from "../webhook/admission.ts";
import type { Conversion } from "../webhook/conversion.ts";
import { hasWebhooks, type WebhookMode, webhookOptions } from "./webhooks.ts";

// biome-ignore lint/suspicious/noExplicitAny: a list of definitions of any kinds and versions
type AnyDefinition = ResourceDefinition<string, Record<string, VersionDefinition>, any>;

/**
 * Everything about one operator that tools need besides its code: the custom resources it defines, its
 * controllers, and how it is deployed. `converge generate` reads it to write CRDs, RBAC, manifests, a Helm chart
 * and an OLM bundle; `runOperator` runs it. A project exports one from `src/operator.ts`.
 */
export interface OperatorDefinition {
  /** Lower-case DNS name, e.g. `memcached-operator`: field manager, lease and ServiceAccount name, chart name. */
  name: string;
  /** Semantic version of the operator (chart and bundle version). */
  version?: string;
  description?: string;
  /** The custom resources this operator owns (their CRDs are generated and installed). */
  definitions: AnyDefinition[];
  /** The controllers it runs. */
  controllers: readonly ControllerDefinition[];
  /** Validating and mutating admission webhooks, served by the operator's webhook server. */
  webhooks?: AdmissionWebhook[];
  /** Conversions between the versions of its custom resources (the CRDs get a webhook conversion stanza). */
  conversions?: Conversion[];
  /** Permissions beyond what the controllers' declared kinds imply. */
  extraRules?: PolicyRule[];
  /** Container image of the operator (default `<name>:<version>`). */
  image?: string;
  /** Namespace the operator is deployed to (default `<name>-system`). */
  namespace?: string;
  /**
   * The operator's capability level in the Operator Framework's maturity model, written into the OLM bundle's CSV
   * (`capabilities` annotation): what it does beyond installing, from "Basic Install" (the default) through
   * "Seamless Upgrades", "Full Lifecycle" (backup, restore, failure recovery), "Deep Insights" (metrics, alerts,
   * events) to "Auto Pilot" (scaling, tuning, self-healing).
   */
  capabilityLevel?: CapabilityLevel;
  /**
   * Monitoring that `converge generate` adds: `serviceMonitor`, a Prometheus Operator ServiceMonitor for the metrics
   * Service (`config/prometheus/monitor.yaml`, and in the chart where the cluster serves monitoring.coreos.com/v1);
   * `dashboard`, a Grafana dashboard of the controller metrics (`config/grafana/dashboard.json`).
   */
  monitoring?: {
    serviceMonitor?: boolean;
    dashboard?: boolean;
    /**
     * Panels of the operator's own metrics, added to the dashboard after the controller panels. Queries may use the
     * dashboard's variables `$namespace` and `$job` (the operator's scrape target) as the built-in panels do.
     */
    panels?: MetricPanel[];
    /**
     * Prometheus alerting rules on the operator's metrics: a PrometheusRule in `config/prometheus/rules.yaml`, and in
     * the chart where the cluster serves monitoring.coreos.com/v1 (`metrics.prometheusRule.enabled`).
     */
    alerts?: AlertRule[];
  };
}

/** A dashboard panel (a time series) of an operator's own metrics. */
export interface MetricPanel {
  title: string;
  description: string;
  /** Grafana's unit: `s`, `short`, `bytes`, `percentunit`, ... */
  unit: string;
  queries: Array<{ expr: string; legend: string }>;
}

/** A Prometheus alerting rule. */
export interface AlertRule {
  /** The alert's name, e.g. `MySQLClusterPrimaryDown`. */
  alert: string;
  /** PromQL; the alert fires for each series it returns. */
  expr: string;
  /** How long `expr` must hold first, e.g. `5m`. */
  for?: string;
  severity: "critical" | "warning" | "info";
  /** One line, may use `{{ $labels.x }}` and `{{ $value }}`. */
  summary: string;
  description: string;
}

/** The five levels of the Operator Framework's capability model, as OLM's CSV annotation spells them. */
export const capabilityLevels = [
  "Basic Install",
  "Seamless Upgrades",
  "Full Lifecycle",
  "Deep Insights",
  "Auto Pilot",
] as const;
export type CapabilityLevel = (typeof capabilityLevels)[number];

/** Checks an operator definition and returns it, typed. */
export function defineOperator(def: OperatorDefinition): OperatorDefinition {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(def.name)) {
    throw new Error(`operator name "${def.name}" must be a DNS label (lower-case letters, digits, '-')`);
  }
  if (def.version !== undefined && !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(def.version)) {
    throw new Error(`operator version "${def.version}" is not a semantic version (1.2.3)`);
  }
  return def;
}

/** Installs (server-side apply) the operator's CRDs and waits until they are established. */
export async function installCrds(client: KubeClient, op: OperatorDefinition, timeoutMs = 30_000): Promise<string[]> {
  const names: string[] = [];
  for (const d of op.definitions) {
    const crd = d.crd();
    await client.apply(apiextensionsv1.CustomResourceDefinition, crd, { force: true, fieldManager: op.name });
    names.push(crd.metadata?.name ?? "");
  }
  await waitForCrds(client, names, timeoutMs);
  return names;
}

/** Waits until the named CRDs are established (their kinds are served). */
export async function waitForCrds(client: KubeClient, names: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await client.get(apiextensionsv1.CustomResourceDefinition, name);
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} was not established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Runs the operator's controllers in a Manager until SIGTERM/SIGINT (`installCrds` first when asked). Options not
 * given come from the environment the generated Deployment sets: `CONVERGE_METRICS_ADDRESS`,
 * `CONVERGE_PROBE_ADDRESS` (host:port, e.g. `:8080`) and `CONVERGE_LEADER_ELECTION=true`.
 */
export async function runOperator(
  op: OperatorDefinition,
  options: Omit<ManagerOptions, "name"> & RunOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const manager = await createOperatorManager(op, options, env);
  if (options.installCrds) await installCrds(manager.client, op);
  await manager.start({ handleSignals: options.handleSignals ?? true });
}

export interface RunOptions {
  /** Install (apply) the CRDs before starting, as `converge run` does. */
  installCrds?: boolean;
  /**
   * `cluster` (default when `KUBERNETES_SERVICE_HOST` is set): webhooks behind their Service, certificates in a
   * Secret. `local`: webhooks on 127.0.0.1, configurations installed with a `url` (`converge run` / `dev`).
   */
  webhookMode?: WebhookMode;
  /** Stop on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
}

/** The Manager `runOperator` runs: controllers, webhooks and conversions added, options from the environment. */
export async function createOperatorManager(
  op: OperatorDefinition,
  options: Omit<ManagerOptions, "name"> & RunOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Manager> {
  const { installCrds: _, webhookMode, handleSignals: __, ...managerOptions } = options;
  const mode = webhookMode ?? (env.KUBERNETES_SERVICE_HOST ? "cluster" : "local");
  let manager: Manager | undefined;
  const client = () => {
    if (!manager) throw new Error("the manager is not created yet");
    return manager.client;
  };
  manager = await Manager.create({
    name: op.name,
    ...(env.CONVERGE_METRICS_ADDRESS ? { metricsAddress: env.CONVERGE_METRICS_ADDRESS } : {}),
    ...(env.CONVERGE_PROBE_ADDRESS ? { probeAddress: env.CONVERGE_PROBE_ADDRESS } : {}),
    ...(env.CONVERGE_LEADER_ELECTION === "true" ? { leaderElection: {} } : {}),
    ...(hasWebhooks(op) ? { webhook: webhookOptions(op, { mode, client, env }) } : {}),
    ...managerOptions,
  });
  for (const c of op.controllers) manager.add(c);
  for (const w of op.webhooks ?? []) manager.addWebhook(w);
  for (const c of op.conversions ?? []) manager.addConversion(c);
  return manager;
}
