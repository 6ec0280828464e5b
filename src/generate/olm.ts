/**
 * An Operator Lifecycle Manager (OLM) bundle, `registry+v1` format: what `operator-sdk generate bundle` writes,
 * from the operator's definition instead of kustomize output.
 *
 * - `bundle/manifests/<name>.clusterserviceversion.yaml`: the ClusterServiceVersion `<name>.v<version>`. Its
 *   install strategy is the operator's Deployment (the deploy generator's spec), its ClusterRole rules (the RBAC
 *   generator's `rulesFor`) as `clusterPermissions` and the leader-election rules as `permissions`, all for the
 *   ServiceAccount `<name>`, which OLM creates. It owns every version of every CRD the operator defines.
 * - `bundle/manifests/<group>_<plural>.yaml`: the CRDs.
 * - `bundle/metadata/annotations.yaml`: the bundle's media type, folders, package (`<name>`) and channel (`alpha`).
 *
 * `validateBundle` makes the checks of `operator-sdk bundle validate` that need no cluster and no index.
 */
import { parseAllDocuments, stringify } from "yaml";
import { capabilityLevels, type OperatorDefinition } from "../operator/operator.ts";
import { hasWebhooks } from "../operator/webhooks.ts";
import type * as admissionregistrationv1 from "../types/generated/admissionregistration.v1.ts";
import type * as apiextensionsv1 from "../types/generated/apiextensions.v1.ts";
import type * as appsv1 from "../types/generated/apps.v1.ts";
import type * as rbacv1 from "../types/generated/rbac.v1.ts";
import type { KubeObject } from "../types/resource.ts";
import { admissionRule } from "../webhook/configure.ts";
import { conversionPath } from "../webhook/server.ts";
import { deploymentObject, env, labelsFor } from "./deploy.ts";
import { fileHeader, type GenerateContext, type GeneratedFile, type Generator, yamlFile } from "./generator.ts";
import { leaderElectionRules, rbacNames, rulesFor } from "./rbac.ts";
import { webhookPort } from "./webhook.ts";

/** The install modes OLM knows; an operator that watches all namespaces supports every one of them. */
export type InstallModeType = "OwnNamespace" | "SingleNamespace" | "MultiNamespace" | "AllNamespaces";

export interface InstallMode {
  type: InstallModeType;
  supported: boolean;
}

/** One version of a CRD the CSV owns. */
export interface OwnedCrd {
  /** `<plural>.<group>`. */
  name: string;
  version: string;
  kind: string;
  displayName?: string;
  description?: string;
}

/** Permissions of one ServiceAccount in a CSV's install strategy. */
export interface StrategyPermissions {
  serviceAccountName: string;
  rules: rbacv1.PolicyRule[];
}

export interface StrategyDeployment {
  name: string;
  label?: Record<string, string>;
  spec: appsv1.DeploymentSpec;
}

/** The part of `operators.coreos.com/v1alpha1` ClusterServiceVersion that this generator writes. */
export interface ClusterServiceVersion extends KubeObject {
  apiVersion: "operators.coreos.com/v1alpha1";
  kind: "ClusterServiceVersion";
  spec: {
    displayName: string;
    description?: string;
    version?: string;
    minKubeVersion?: string;
    maturity?: string;
    provider?: { name?: string; url?: string };
    keywords?: string[];
    installModes?: InstallMode[];
    customresourcedefinitions?: { owned?: OwnedCrd[]; required?: OwnedCrd[] };
    webhookdefinitions?: WebhookDefinition[];
    install: {
      strategy: "deployment";
      spec: {
        clusterPermissions?: StrategyPermissions[];
        permissions?: StrategyPermissions[];
        deployments: StrategyDeployment[];
      };
    };
  };
}

/** One webhook OLM installs for the CSV (it makes the certificates, the Service and the configuration). */
export interface WebhookDefinition {
  type: "ValidatingAdmissionWebhook" | "MutatingAdmissionWebhook" | "ConversionWebhook";
  generateName: string;
  deploymentName: string;
  containerPort: number;
  targetPort: number;
  webhookPath: string;
  admissionReviewVersions: string[];
  sideEffects: string;
  failurePolicy?: string;
  timeoutSeconds?: number;
  rules?: admissionregistrationv1.RuleWithOperations[];
  objectSelector?: admissionregistrationv1.ValidatingWebhook["objectSelector"];
  matchPolicy?: string;
  reinvocationPolicy?: string;
  conversionCRDs?: string[];
}

/** Where OLM mounts the serving certificate it makes for webhooks (controller-runtime's default folder). */
export const olmWebhookCertDir = "/tmp/k8s-webhook-server/serving-certs";

export const csvApiVersion = "operators.coreos.com/v1alpha1";
/** The channel every generated bundle is published to (and its default channel). */
export const defaultChannel = "alpha";
/** Oldest Kubernetes the bundle declares (the oldest the operator's CRDs and runtime support). */
export const minKubeVersion = "1.27.0";

/** Keys of `bundle/metadata/annotations.yaml`. */
export const annotationKeys = {
  mediatype: "operators.operatorframework.io.bundle.mediatype.v1",
  manifests: "operators.operatorframework.io.bundle.manifests.v1",
  metadata: "operators.operatorframework.io.bundle.metadata.v1",
  package: "operators.operatorframework.io.bundle.package.v1",
  channels: "operators.operatorframework.io.bundle.channels.v1",
  defaultChannel: "operators.operatorframework.io.bundle.channel.default.v1",
} as const;

export const bundlePaths = {
  manifests: "bundle/manifests/",
  metadata: "bundle/metadata/",
  annotations: "bundle/metadata/annotations.yaml",
} as const;

const semver = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** `hello-world-operator` → `Hello World Operator`. */
export function displayNameOf(name: string): string {
  return name
    .split(/[-_.]/)
    .filter((w) => w.length > 0)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join(" ");
}

/** `<name>.v<version>`. */
export function csvName(op: OperatorDefinition, version: string): string {
  return `${op.name}.v${version}`;
}

/** One entry per definition and served version, in definition and version order. */
export function ownedCrds(op: OperatorDefinition): OwnedCrd[] {
  const owned: OwnedCrd[] = [];
  for (const d of op.definitions) {
    const crd = d.crd();
    const kind = crd.spec.names.kind;
    for (const v of crd.spec.versions) {
      if (!v.served) continue;
      owned.push({
        name: crd.metadata?.name ?? `${d.plural}.${d.group}`,
        version: v.name,
        kind,
        displayName: displayNameOf(kind.replace(/([a-z0-9])([A-Z])/g, "$1-$2")),
        description: d.init.description ?? `${kind} (${d.group}/${v.name}).`,
      });
    }
  }
  return owned;
}

export function clusterServiceVersion(ctx: GenerateContext): ClusterServiceVersion {
  const { op, version } = ctx;
  const serviceAccountName = rbacNames(op.name).serviceAccount;
  const deployment = olmDeployment(ctx);
  if (!deployment.spec) throw new Error(`the Deployment of ${op.name} has no spec`);
  const installModes: InstallMode[] = (
    ["OwnNamespace", "SingleNamespace", "MultiNamespace", "AllNamespaces"] as const
  ).map((type) => ({ type, supported: true }));
  return {
    apiVersion: csvApiVersion,
    kind: "ClusterServiceVersion",
    metadata: {
      name: csvName(op, version),
      labels: labelsFor(ctx),
      annotations: {
        capabilities: op.capabilityLevel ?? "Basic Install",
        containerImage: ctx.image,
        "operators.operatorframework.io/builder": "converge",
      },
    },
    spec: {
      displayName: displayNameOf(op.name),
      description: op.description ?? displayNameOf(op.name),
      version,
      minKubeVersion,
      maturity: defaultChannel,
      provider: { name: op.name },
      keywords: [op.name],
      installModes,
      customresourcedefinitions: { owned: ownedCrds(op) },
      ...(hasWebhooks(op) ? { webhookdefinitions: webhookDefinitions(ctx, deployment.metadata?.name ?? op.name) } : {}),
      install: {
        strategy: "deployment",
        spec: {
          // OLM makes the webhook certificates and configurations itself: no rules for them here.
          clusterPermissions: [{ serviceAccountName, rules: rulesFor(op, { webhooks: false }) }],
          permissions: [{ serviceAccountName, rules: leaderElectionRules.map((r) => structuredClone(r)) }],
          deployments: [{ name: deployment.metadata?.name ?? op.name, spec: deployment.spec }],
        },
      },
    },
  };
}

/** The Deployment, taking the webhook certificates OLM mounts instead of making its own. */
function olmDeployment(ctx: GenerateContext): appsv1.Deployment {
  const deployment = deploymentObject(ctx);
  if (!hasWebhooks(ctx.op)) return deployment;
  const container = deployment.spec?.template.spec?.containers[0];
  if (container) container.env = [...(container.env ?? []), { name: env.webhookCertDir, value: olmWebhookCertDir }];
  return deployment;
}

/** The CSV's webhook definitions: each admission webhook, and one conversion webhook for the converted CRDs. */
function webhookDefinitions(ctx: GenerateContext, deploymentName: string): WebhookDefinition[] {
  const common = { deploymentName, containerPort: 443, targetPort: webhookPort, admissionReviewVersions: ["v1"] };
  const defs: WebhookDefinition[] = (ctx.op.webhooks ?? []).map((w) => {
    const o = w.options;
    return {
      ...common,
      type: w.type === "validating" ? "ValidatingAdmissionWebhook" : "MutatingAdmissionWebhook",
      generateName: w.name,
      webhookPath: w.path,
      sideEffects: o.sideEffects ?? "None",
      failurePolicy: o.failurePolicy ?? "Fail",
      timeoutSeconds: o.timeoutSeconds ?? 10,
      matchPolicy: "Equivalent",
      rules: [admissionRule(w)],
      ...(o.objectSelector ? { objectSelector: o.objectSelector } : {}),
      ...(w.type === "mutating" ? { reinvocationPolicy: "Never" } : {}),
    };
  });
  const conversions = ctx.op.conversions ?? [];
  if (conversions.length) {
    defs.push({
      ...common,
      type: "ConversionWebhook",
      generateName: `c${ctx.op.name}.${conversions[0]?.group ?? "converge.dev"}`,
      webhookPath: conversionPath,
      sideEffects: "None",
      conversionCRDs: conversions.map((c) => c.crdName),
    });
  }
  return defs;
}

/** The contents of `bundle/metadata/annotations.yaml`. */
export function bundleAnnotations(op: OperatorDefinition): Record<string, string> {
  return {
    [annotationKeys.mediatype]: "registry+v1",
    [annotationKeys.manifests]: "manifests/",
    [annotationKeys.metadata]: "metadata/",
    [annotationKeys.package]: op.name,
    [annotationKeys.channels]: defaultChannel,
    [annotationKeys.defaultChannel]: defaultChannel,
  };
}

/** The bundle's files: the CSV, one file per CRD, and the metadata annotations. */
export function olmBundleFiles(ctx: GenerateContext): GeneratedFile[] {
  const { op } = ctx;
  return [
    yamlFile(`${bundlePaths.manifests}${op.name}.clusterserviceversion.yaml`, [clusterServiceVersion(ctx)]),
    ...op.definitions.map((d) => yamlFile(`${bundlePaths.manifests}${d.group}_${d.plural}.yaml`, [d.crd()])),
    {
      path: bundlePaths.annotations,
      content: fileHeader + stringify({ annotations: bundleAnnotations(op) }, { lineWidth: 0 }),
    },
  ];
}

/** Writes the OLM bundle under `bundle/` (see the module's description). */
export const olmGenerator: Generator = { name: "olm", generate: olmBundleFiles };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseDocuments(file: GeneratedFile, problems: string[]): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(file.content)) {
    if (doc.errors.length > 0) {
      problems.push(`${file.path}: invalid YAML: ${doc.errors[0]?.message}`);
      continue;
    }
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/**
 * The checks of `operator-sdk bundle validate` that work on the files alone. Returns the problems found (none:
 * a valid bundle): the annotations file and its required keys (media type `registry+v1`); exactly one CSV among
 * the manifests, named `<package>.v<version>`, with a semantic version, a display name, install modes with at least
 * one supported, and a deployment install strategy with at least one deployment; every owned CRD version has a
 * CRD manifest in the bundle that serves that version with the same kind; every CRD manifest is owned by the CSV;
 * nothing in the manifests folder but CSV and CRDs.
 */
export function validateBundle(files: GeneratedFile[]): string[] {
  const problems: string[] = [];
  const annotationsFile = files.find((f) => f.path === bundlePaths.annotations);
  let packageName: string | undefined;
  if (!annotationsFile) {
    problems.push(`${bundlePaths.annotations} is missing`);
  } else {
    const [doc] = parseDocuments(annotationsFile, problems);
    const annotations = isRecord(doc) && isRecord(doc.annotations) ? doc.annotations : undefined;
    if (!annotations) {
      problems.push(`${bundlePaths.annotations}: no annotations map`);
    } else {
      for (const key of Object.values(annotationKeys)) {
        const value = annotations[key];
        if (key === annotationKeys.defaultChannel) {
          if (value !== undefined && typeof value !== "string") problems.push(`annotation ${key} must be a string`);
          continue;
        }
        if (typeof value !== "string" || value === "") problems.push(`annotation ${key} is missing`);
      }
      const mediatype = annotations[annotationKeys.mediatype];
      if (typeof mediatype === "string" && mediatype !== "registry+v1") {
        problems.push(`annotation ${annotationKeys.mediatype} is "${mediatype}", not "registry+v1"`);
      }
      const channels = annotations[annotationKeys.channels];
      const defaultCh = annotations[annotationKeys.defaultChannel];
      if (typeof channels === "string" && typeof defaultCh === "string") {
        if (
          !channels
            .split(",")
            .map((c) => c.trim())
            .includes(defaultCh)
        ) {
          problems.push(`default channel "${defaultCh}" is not among the channels "${channels}"`);
        }
      }
      const pkg = annotations[annotationKeys.package];
      if (typeof pkg === "string") packageName = pkg;
    }
  }

  const csvs: Array<{ path: string; obj: Record<string, unknown> }> = [];
  const crds: Array<{ path: string; obj: apiextensionsv1.CustomResourceDefinition }> = [];
  for (const file of files) {
    if (!file.path.startsWith(bundlePaths.manifests)) continue;
    for (const obj of parseDocuments(file, problems)) {
      if (!isRecord(obj)) {
        problems.push(`${file.path}: a document that is not an object`);
      } else if (obj.kind === "ClusterServiceVersion" && obj.apiVersion === csvApiVersion) {
        csvs.push({ path: file.path, obj });
      } else if (obj.kind === "CustomResourceDefinition" && obj.apiVersion === "apiextensions.k8s.io/v1") {
        crds.push({ path: file.path, obj: obj as unknown as apiextensionsv1.CustomResourceDefinition });
      } else {
        problems.push(`${file.path}: unexpected ${String(obj.apiVersion)} ${String(obj.kind)} in the manifests`);
      }
    }
  }
  if (csvs.length !== 1) {
    problems.push(`the bundle has ${csvs.length} ClusterServiceVersions, not one`);
    return problems;
  }
  const { path, obj: csv } = csvs[0] as { path: string; obj: Record<string, unknown> };
  const metadata = isRecord(csv.metadata) ? csv.metadata : {};
  const spec = isRecord(csv.spec) ? csv.spec : {};
  const name = typeof metadata.name === "string" ? metadata.name : "";
  const version = typeof spec.version === "string" ? spec.version : "";
  if (!semver.test(version)) problems.push(`${path}: spec.version "${version}" is not a semantic version`);
  if (packageName !== undefined && name !== `${packageName}.v${version}`) {
    problems.push(`${path}: the CSV is named "${name}", not "${packageName}.v${version}" (<package>.v<version>)`);
  }
  if (typeof spec.displayName !== "string" || spec.displayName === "") problems.push(`${path}: no spec.displayName`);
  const annotations = isRecord(metadata.annotations) ? metadata.annotations : {};
  const level = annotations.capabilities;
  if (level !== undefined && !capabilityLevels.some((l) => l === level)) {
    problems.push(`${path}: capabilities "${String(level)}" is not one of ${capabilityLevels.join(", ")}`);
  }

  const modes = Array.isArray(spec.installModes) ? spec.installModes.filter(isRecord) : [];
  if (modes.length === 0) problems.push(`${path}: no spec.installModes`);
  else if (!modes.some((m) => m.supported === true)) problems.push(`${path}: no supported install mode`);
  const known = new Set<unknown>(["OwnNamespace", "SingleNamespace", "MultiNamespace", "AllNamespaces"]);
  for (const m of modes) if (!known.has(m.type)) problems.push(`${path}: unknown install mode ${String(m.type)}`);

  const install = isRecord(spec.install) ? spec.install : {};
  const installSpec = isRecord(install.spec) ? install.spec : {};
  if (install.strategy !== "deployment") problems.push(`${path}: install strategy is not "deployment"`);
  if (!Array.isArray(installSpec.deployments) || installSpec.deployments.length === 0) {
    problems.push(`${path}: the install strategy has no deployments`);
  }

  const crdDefs = isRecord(spec.customresourcedefinitions) ? spec.customresourcedefinitions : {};
  const owned = Array.isArray(crdDefs.owned) ? crdDefs.owned.filter(isRecord) : [];
  const crdByName = new Map(crds.map((c) => [c.obj.metadata?.name ?? "", c]));
  const ownedNames = new Set<string>();
  for (const o of owned) {
    const what = `owned CRD ${String(o.name)} ${String(o.version)}`;
    if (typeof o.name !== "string" || typeof o.version !== "string" || typeof o.kind !== "string") {
      problems.push(`${path}: ${what} needs a name, version and kind`);
      continue;
    }
    ownedNames.add(o.name);
    const crd = crdByName.get(o.name);
    if (!crd) {
      problems.push(`${path}: ${what} has no CRD manifest in the bundle`);
      continue;
    }
    if (crd.obj.spec?.names?.kind !== o.kind) {
      problems.push(`${path}: ${what} is kind ${o.kind}, the CRD's kind is ${String(crd.obj.spec?.names?.kind)}`);
    }
    if (!crd.obj.spec?.versions?.some((v) => v.name === o.version)) {
      problems.push(`${path}: ${what}: the CRD ${o.name} has no version ${o.version}`);
    }
  }
  for (const { path: crdPath, obj } of crds) {
    const crdName = obj.metadata?.name ?? "";
    if (!ownedNames.has(crdName)) problems.push(`${crdPath}: CRD ${crdName} is not owned by the CSV`);
  }
  return problems;
}
