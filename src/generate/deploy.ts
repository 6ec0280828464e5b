/**
 * How an operator runs in a cluster: its Namespace, RBAC (given, from the RBAC generator), a Deployment and a
 * metrics Service as raw manifests, a Dockerfile for its image, and a raw install bundle.
 *
 * The container's contract, which the operator's entry point (`src/main.ts`, the Dockerfile's CMD) follows:
 *
 * | env                        | value                                                                         |
 * | -------------------------- | ----------------------------------------------------------------------------- |
 * | `CONVERGE_LOG_LEVEL`       | log level (read by Converge's logger)                                         |
 * | `CONVERGE_METRICS_ADDRESS` | `:8080`, the Manager's `metricsAddress` (`/metrics`)                          |
 * | `CONVERGE_PROBE_ADDRESS`   | `:8081`, the Manager's `probeAddress` (`/healthz` liveness, `/readyz` readiness) |
 * | `CONVERGE_LEADER_ELECTION` | `true` (the default): pass `leaderElection: {}` to the Manager                 |
 *
 * Leader election is on by default, whatever the replica count (as kubebuilder's scaffold does): a Deployment's
 * rolling update runs the new pod beside the old one, and without a lease both would reconcile. The Lease lives
 * in the pod's own namespace, which the RBAC generator's Role covers.
 */

import { hasWebhooks } from "../operator/webhooks.ts";
import type * as appsv1 from "../types/generated/apps.v1.ts";
import type * as corev1 from "../types/generated/core.v1.ts";
import type { KubeObject } from "../types/resource.ts";
import { runtimeNodeFlags } from "./build.ts";
import type { GenerateContext, GeneratedFile, Generator } from "./generator.ts";
import { yamlFile } from "./generator.ts";
import { webhookConfigurationObjects, webhookPort, webhookServiceObject } from "./webhook.ts";

/** Port of `/metrics` (the Manager's `metricsAddress`). */
export const metricsPort = 8080;
/** Port of `/healthz` and `/readyz` (the Manager's `probeAddress`). */
export const probePort = 8081;
/** Name of the operator's container in its pod. */
export const containerName = "manager";

/** Environment variables of the deployed container (see the table above). */
export const env = {
  logLevel: "CONVERGE_LOG_LEVEL",
  metricsAddress: "CONVERGE_METRICS_ADDRESS",
  probeAddress: "CONVERGE_PROBE_ADDRESS",
  leaderElection: "CONVERGE_LEADER_ELECTION",
  webhookAddress: "CONVERGE_WEBHOOK_ADDRESS",
  webhookCertDir: "CONVERGE_WEBHOOK_CERT_DIR",
  podNamespace: "POD_NAMESPACE",
} as const;

/** Requests sized for an idle operator; the limits leave room for a full resync of a large cache. */
export const defaultResources: corev1.ResourceRequirements = {
  requests: { cpu: "10m", memory: "64Mi" },
  limits: { cpu: "500m", memory: "256Mi" },
};

/**
 * The restricted Pod Security Standard: no root, no privilege escalation, no capabilities, a read-only root
 * filesystem (a writable `/tmp` is mounted) and the runtime's default seccomp profile.
 */
export const containerSecurityContext: corev1.SecurityContext = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

export const podSecurityContext: corev1.PodSecurityContext = {
  runAsNonRoot: true,
  seccompProfile: { type: "RuntimeDefault" },
};

/**
 * Shutdown waits up to 30 s for running reconciles (the Manager's default `shutdownTimeoutMs`); the pod gets a
 * little longer before SIGKILL.
 */
export const terminationGracePeriodSeconds = 40;

export interface DeployOptions {
  /** Replicas of the Deployment (default 1). */
  replicas?: number;
  /** Elect a leader on a Lease (default true, even for one replica: a rolling update runs two pods at once). */
  leaderElection?: boolean;
  /** `CONVERGE_LOG_LEVEL` (default `info`). */
  logLevel?: string;
  resources?: corev1.ResourceRequirements;
}

/** The labels of every object this module writes. */
export function labelsFor(ctx: GenerateContext): Record<string, string> {
  return { "app.kubernetes.io/name": ctx.op.name, "app.kubernetes.io/managed-by": "converge" };
}

/** The Deployment's selector: only the name, because a selector cannot change once the Deployment exists. */
export function selectorLabelsFor(ctx: GenerateContext): Record<string, string> {
  return { "app.kubernetes.io/name": ctx.op.name };
}

export function namespaceObject(ctx: GenerateContext): corev1.Namespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: ctx.namespace,
      // The operator's pod meets the restricted standard; enforcing it keeps anything else out of its namespace.
      labels: { ...labelsFor(ctx), "pod-security.kubernetes.io/enforce": "restricted" },
    },
  };
}

export function deploymentObject(ctx: GenerateContext, options: DeployOptions = {}): appsv1.Deployment {
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`replicas must be a whole number, not ${replicas}`);
  const leaderElection = options.leaderElection ?? true;
  const containerEnv: corev1.EnvVar[] = [
    { name: env.logLevel, value: options.logLevel ?? "info" },
    { name: env.metricsAddress, value: `:${metricsPort}` },
    { name: env.probeAddress, value: `:${probePort}` },
    ...(leaderElection ? [{ name: env.leaderElection, value: "true" }] : []),
    ...(hasWebhooks(ctx.op) ? webhookEnv() : []),
  ];
  const labels = labelsFor(ctx);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: ctx.op.name, namespace: ctx.namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: selectorLabelsFor(ctx) },
      template: {
        metadata: { labels, annotations: { "kubectl.kubernetes.io/default-container": containerName } },
        spec: {
          serviceAccountName: ctx.op.name,
          securityContext: podSecurityContext,
          terminationGracePeriodSeconds,
          containers: [
            {
              name: containerName,
              image: ctx.image,
              imagePullPolicy: "IfNotPresent",
              // No command: the image's CMD runs the operator (see dockerfile()).
              env: containerEnv,
              ports: [
                { name: "metrics", containerPort: metricsPort, protocol: "TCP" },
                { name: "probes", containerPort: probePort, protocol: "TCP" },
                ...(hasWebhooks(ctx.op)
                  ? [{ name: "webhook", containerPort: webhookPort, protocol: "TCP" as const }]
                  : []),
              ],
              livenessProbe: {
                httpGet: { path: "/healthz", port: "probes" },
                initialDelaySeconds: 15,
                periodSeconds: 20,
              },
              readinessProbe: {
                httpGet: { path: "/readyz", port: "probes" },
                initialDelaySeconds: 5,
                periodSeconds: 10,
              },
              resources: options.resources ?? defaultResources,
              securityContext: containerSecurityContext,
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
}

/** The webhook server's address, and the namespace of its Secret and Service (the pod's). */
export function webhookEnv(): corev1.EnvVar[] {
  return [
    { name: env.webhookAddress, value: `:${webhookPort}` },
    { name: env.podNamespace, valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  ];
}

/** The metrics Service, `<name>-metrics`, for a Prometheus scrape configuration or a ServiceMonitor. */
export function metricsServiceObject(ctx: GenerateContext): corev1.Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `${ctx.op.name}-metrics`, namespace: ctx.namespace, labels: labelsFor(ctx) },
    spec: {
      selector: selectorLabelsFor(ctx),
      ports: [{ name: "metrics", port: metricsPort, targetPort: "metrics", protocol: "TCP" }],
    },
  };
}

/**
 * Everything that runs the operator, in the order to apply it: its Namespace, the given RBAC objects (the
 * ServiceAccount `<name>` among them), the Deployment and the metrics Service. CRDs are not included.
 */
export function deploymentObjects(ctx: GenerateContext, rbac: KubeObject[], options: DeployOptions = {}): KubeObject[] {
  return [
    namespaceObject(ctx),
    ...rbac,
    deploymentObject(ctx, options),
    metricsServiceObject(ctx),
    ...webhookObjects(ctx),
  ];
}

/** The webhook Service and configurations, for an operator with webhooks or conversions (else none). */
export function webhookObjects(ctx: GenerateContext): KubeObject[] {
  if (!hasWebhooks(ctx.op)) return [];
  return [
    webhookServiceObject(ctx, labelsFor(ctx), selectorLabelsFor(ctx)),
    ...webhookConfigurationObjects(ctx, labelsFor(ctx)),
  ];
}

/**
 * A multi-stage Dockerfile: production dependencies are installed in a first stage, `converge build` bundles the
 * project's TypeScript and Converge into `dist/` in a second (a bundle starts faster and holds less memory than
 * sources stripped at load), and the final image holds the
 * dependencies, `package.json` and `dist/`, and runs `node <runtimeNodeFlags> dist/main.js` as the image's non-root
 * `node` user.
 */
export function dockerfile(ctx: GenerateContext): string {
  const cmd = JSON.stringify(["node", ...runtimeNodeFlags, "dist/main.js"]).replaceAll(",", ", ");
  return `# Generated by \`converge generate\` from the operator's TypeScript definitions; do not edit.
# ${ctx.op.name} ${ctx.version}: \`converge build\` bundles the TypeScript sources into dist/main.js.

FROM node:24-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json* ./
# A lock file gives a reproducible install; without one, npm resolves the ranges in package.json.
RUN if [ -f package-lock.json ]; then npm ci --omit=dev; else npm install --omit=dev; fi

FROM deps AS build
COPY src ./src
RUN npx converge build

FROM node:24-alpine
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# The image's \`node\` user, by uid: the kubelet can only check runAsNonRoot against a numeric user.
USER 1000:1000
EXPOSE ${[metricsPort, probePort, ...(hasWebhooks(ctx.op) ? [webhookPort] : [])].join(" ")}
# The flags: see runtimeNodeFlags in converge's build module.
CMD ${cmd}
`;
}

/** The install bundle: CRDs first (so that nothing waits on them), then deploymentObjects(). */
export function bundleObjects(ctx: GenerateContext, rbac: KubeObject[], options: DeployOptions = {}): KubeObject[] {
  return [...ctx.op.definitions.map((d) => d.crd()), ...deploymentObjects(ctx, rbac, options)];
}

/** The files of the deploy generator: see makeDeployGenerator. */
export function deployFiles(ctx: GenerateContext, rbac: KubeObject[], options: DeployOptions = {}): GeneratedFile[] {
  return [
    yamlFile("config/manager/manager.yaml", [
      namespaceObject(ctx),
      deploymentObject(ctx, options),
      metricsServiceObject(ctx),
    ]),
    ...(hasWebhooks(ctx.op) ? [yamlFile("config/webhook/manifests.yaml", webhookObjects(ctx))] : []),
    yamlFile("config/bundle.yaml", bundleObjects(ctx, rbac, options)),
    { path: "Dockerfile", content: dockerfile(ctx) },
  ];
}

/**
 * Writes `config/manager/manager.yaml` (Namespace, Deployment, metrics Service), `config/bundle.yaml` (CRDs,
 * Namespace, RBAC, Deployment, Service: `kubectl apply --server-side -f` installs everything) and `Dockerfile`.
 * `rbacFor` supplies the RBAC objects (normally the RBAC generator's), so that this module does not depend on it.
 */
export function makeDeployGenerator(
  rbacFor: (ctx: GenerateContext) => KubeObject[],
  options: DeployOptions = {},
): Generator {
  return { name: "deploy", generate: (ctx) => deployFiles(ctx, rbacFor(ctx), options) };
}

/** The operator's ServiceAccount `<name>`, alone: what deployGenerator uses when no RBAC is wired in. */
export function serviceAccountObject(ctx: GenerateContext): corev1.ServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: ctx.op.name, namespace: ctx.namespace, labels: labelsFor(ctx) },
  };
}

/**
 * The deploy generator with a ServiceAccount but no roles: the pod starts, but cannot read or write anything.
 * Projects wire the RBAC generator in instead: `makeDeployGenerator(rbacObjects)`.
 */
export const deployGenerator: Generator = makeDeployGenerator((ctx) => [serviceAccountObject(ctx)]);
