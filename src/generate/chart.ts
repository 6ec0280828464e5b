/**
 * A Helm chart for an operator, `charts/<name>/`: the CRDs in `crds/` (Helm installs them before anything else,
 * and never templates, upgrades or deletes them), and templates for the ServiceAccount, RBAC, Deployment and
 * metrics Service, all in the release's namespace.
 *
 * The chart's files are the templates in chart/ beside this module, filled in (fill.ts) with what is the
 * operator's own: its name (the chart's, and the prefix of its named templates), description, version and image,
 * its custom resources, whether it serves webhooks or asks for a ServiceMonitor, and the RBAC and webhook objects
 * of the other generators, printed as templates. The rest is written out in the files: the Deployment follows the
 * container contract of deploy.ts (same ports, probes, security context and environment variables), which
 * chart.test.ts holds them to.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { hasWebhooks, webhookNames } from "../operator/webhooks.ts";
import type { KubeObject } from "../types/resource.ts";
import { fill, type TemplateValues } from "./fill.ts";
import { type GenerateContext, type GeneratedFile, type Generator, yamlFile } from "./generator.ts";
import { webhookConfigurationObjects } from "./webhook.ts";

/** The chart's templates; `npm run pack` ships them beside the compiled module. */
export const chartTemplateDir = join(import.meta.dirname, "chart");

const templates = new Map<string, string>();

/** A file of chart/, filled in; read on first use (a bundled operator that never generates never reads them). */
function chartFile(path: string, values: TemplateValues): string {
  let text = templates.get(path);
  if (text === undefined) {
    text = readFileSync(join(chartTemplateDir, path), "utf8");
    templates.set(path, text);
  }
  return fill(text, values, `chart/${path}`);
}

/** `repository`, `tag` and `digest` of an image reference (`registry:5000/team/op:1.0`, `op@sha256:...`). */
export function splitImage(image: string): { repository: string; tag: string; digest: string } {
  const at = image.indexOf("@");
  if (at >= 0) return { repository: image.slice(0, at), tag: "", digest: image.slice(at + 1) };
  const colon = image.lastIndexOf(":");
  if (colon > image.lastIndexOf("/"))
    return { repository: image.slice(0, colon), tag: image.slice(colon + 1), digest: "" };
  return { repository: image, tag: "", digest: "" };
}

/** YAML of a value, indented by `spaces` on every line but the first (for text after `key:` + newline). */
function block(value: unknown, spaces: number): string {
  const pad = " ".repeat(spaces);
  return stringify(value, { lineWidth: 0 })
    .trimEnd()
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

/** A scalar as YAML (quoted when it needs to be). */
function scalar(value: string | number | boolean): string {
  return stringify(value).trimEnd();
}

/** Text that Helm must print as it is: `{{` would otherwise start a template action. */
function escapeTemplate(text: string): string {
  return text.replaceAll("{{", '{{ "{{" }}');
}

const chartLabelKeys = new Set([
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "app.kubernetes.io/managed-by",
  "helm.sh/chart",
]);

/** Markers put into RBAC objects before they are printed, then replaced by template actions. */
const marker = {
  fullname: "__converge_chart_fullname__",
  namespace: "__converge_chart_namespace__",
  serviceAccount: "__converge_chart_service_account__",
  labels: "__converge_chart_labels__",
};

/**
 * One RBAC object as template text: its namespace becomes the release's, names that start with the operator's
 * name start with the release's full name instead (and so do role references), and the operator's
 * ServiceAccount in subjects becomes the chart's.
 */
function rbacTemplate(ctx: GenerateContext, obj: KubeObject, chart: string): string {
  const name = ctx.op.name;
  const rename = (n: string | undefined): string | undefined =>
    n === name || n?.startsWith(`${name}-`) ? marker.fullname + n.slice(name.length) : n;
  const copy = structuredClone(obj) as KubeObject & {
    subjects?: Array<{ kind?: string; name?: string; namespace?: string }>;
    roleRef?: { kind?: string; name?: string };
  };
  const meta = copy.metadata ?? {};
  // Labels the RBAC generator set besides the usual ones are kept next to the chart's.
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta.labels ?? {})) if (!chartLabelKeys.has(k)) extra[k] = v;
  meta.name = rename(meta.name);
  if (meta.namespace === ctx.namespace) meta.namespace = marker.namespace;
  meta.labels = { [marker.labels]: "" };
  copy.metadata = meta;
  if (copy.roleRef) copy.roleRef = { ...copy.roleRef, name: rename(copy.roleRef.name) };
  if (copy.subjects) {
    copy.subjects = copy.subjects.map((s) =>
      s.kind === "ServiceAccount" && s.name === name && s.namespace === ctx.namespace
        ? { ...s, name: marker.serviceAccount, namespace: marker.namespace }
        : s,
    );
  }
  const extraLines = Object.keys(extra).length > 0 ? `\n${block(extra, 4)}` : "";
  return escapeTemplate(stringify(copy, { lineWidth: 0 }))
    .replace(`    ${marker.labels}: ""`, `    {{- include "${chart}.labels" . | nindent 4 }}${extraLines}`)
    .replaceAll(marker.fullname, `{{ include "${chart}.fullname" . }}`)
    .replaceAll(marker.namespace, "{{ .Release.Namespace }}")
    .replaceAll(marker.serviceAccount, `{{ include "${chart}.serviceAccountName" . }}`);
}

/**
 * The webhook configurations as template text. Their names stay the operator's (not the release's): the running
 * operator finds its configurations, Secret and Service by those names, and its RBAC names them.
 */
function webhookConfigurationTemplates(ctx: GenerateContext): string[] {
  return webhookConfigurationObjects(ctx, { [marker.labels]: "" }).map((o) =>
    escapeTemplate(stringify(o, { lineWidth: 0 }))
      .replace(`    ${marker.labels}: ""`, `    {{- include "${ctx.op.name}.labels" . | nindent 4 }}`)
      .replaceAll(`namespace: ${ctx.namespace}`, "namespace: {{ .Release.Namespace }}"),
  );
}

/**
 * The files of `charts/<name>/`. `rbac` is the RBAC generator's output for `ctx` (its ServiceAccount is replaced
 * by the chart's own template, whose name values can change; its other objects are templated into the release
 * namespace).
 */
export function chartFiles(ctx: GenerateContext, rbac: KubeObject[]): GeneratedFile[] {
  const name = ctx.op.name;
  const dir = `charts/${name}`;
  const image = splitImage(ctx.image);
  const webhooks = hasWebhooks(ctx.op);
  // Versions are quoted: an unquoted 1.10 would be read as the number 1.1.
  const quoted = (v: string) => JSON.stringify(v);
  const values = {
    name,
    description: quoted(ctx.op.description ?? `The ${name} Kubernetes operator`),
    version: quoted(ctx.version),
    imageRepository: scalar(image.repository),
    // The generated image is tagged with the operator's version, which is the chart's appVersion.
    imageTag: scalar(image.tag === ctx.version ? "" : image.tag),
    imageDigest: scalar(image.digest),
    serviceMonitor: ctx.op.monitoring?.serviceMonitor === true,
    prometheusRule: (ctx.op.monitoring?.alerts?.length ?? 0) > 0,
    webhooks,
    crds: ctx.op.definitions.map((d) => `  - ${d.plural}.${d.group} (${d.kind})`).join("\n"),
  };
  const template = (path: string, extra: TemplateValues = {}): GeneratedFile => ({
    path: `${dir}/${path}`,
    content: chartFile(path, { ...values, ...extra }),
  });
  const rbacObjects = rbac.filter((o) => !(o.kind === "ServiceAccount" && o.apiVersion === "v1"));
  return [
    template("Chart.yaml"),
    template("values.yaml"),
    ...ctx.op.definitions.map((d) => yamlFile(`${dir}/crds/${d.group}_${d.plural}.yaml`, [d.crd()])),
    template("templates/_helpers.tpl"),
    template("templates/serviceaccount.yaml"),
    ...(rbacObjects.length > 0
      ? [template("templates/rbac.yaml", { objects: rbacObjects.map((o) => rbacTemplate(ctx, o, name)).join("---\n") })]
      : []),
    template("templates/deployment.yaml"),
    template("templates/service.yaml"),
    ...(webhooks
      ? [
          template("templates/webhook.yaml", {
            service: webhookNames(ctx.op).service,
            configurations: webhookConfigurationTemplates(ctx)
              .map((c) => `---\n${c}`)
              .join(""),
          }),
        ]
      : []),
    template("templates/NOTES.txt"),
    template(".helmignore"),
  ];
}

/** Writes `charts/<name>/`; `rbacFor` supplies the RBAC objects (normally the RBAC generator's). */
export function makeChartGenerator(rbacFor: (ctx: GenerateContext) => KubeObject[]): Generator {
  return { name: "chart", generate: (ctx) => chartFiles(ctx, rbacFor(ctx)) };
}
