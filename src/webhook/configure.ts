/**
 * The objects that point the apiserver at the webhook server: a ValidatingWebhookConfiguration and a
 * MutatingWebhookConfiguration for the admission webhooks, and the conversion stanza of each converted CRD. In a
 * cluster they name the webhook Service; for local runs (`converge run`, tests) a `url` on 127.0.0.1. The CA
 * bundle is written into all of them, again after every CA rollover.
 */
import type { KubeClient } from "../client/api.ts";
import {
  MutatingWebhookConfiguration,
  type RuleWithOperations,
  type ValidatingWebhook,
  ValidatingWebhookConfiguration,
  type WebhookClientConfig,
} from "../types/generated/admissionregistration.v1.ts";
import { type CustomResourceConversion, CustomResourceDefinition } from "../types/generated/apiextensions.v1.ts";
import type { ResourceType } from "../types/resource.ts";
import type { AdmissionWebhook } from "./admission.ts";
import type { Conversion } from "./conversion.ts";
import { conversionPath } from "./server.ts";

/** Where the apiserver finds the webhook server. */
export type WebhookEndpoint =
  | { service: { name: string; namespace: string; port?: number } }
  | { url: string /* https://host:port, no path */ };

function clientConfig(endpoint: WebhookEndpoint, path: string, caBundle?: string): WebhookClientConfig {
  const ca = caBundle ? { caBundle: Buffer.from(caBundle).toString("base64") } : {};
  if ("url" in endpoint) return { url: `${endpoint.url.replace(/\/$/, "")}${path}`, ...ca };
  const { name, namespace, port } = endpoint.service;
  return { service: { name, namespace, path, port: port ?? 443 }, ...ca };
}

/** What a webhook intercepts: its resource's version and subresources, for its operations. */
export function admissionRule(w: AdmissionWebhook): RuleWithOperations {
  const o = w.options;
  const r = w.resource;
  return {
    apiGroups: [r.group],
    apiVersions: [r.version],
    resources: [r.plural, ...(o.subresources ?? []).map((s) => `${r.plural}/${s}`)],
    operations: o.operations ?? ["CREATE", "UPDATE"],
    scope: r.namespaced ? "Namespaced" : "Cluster",
  };
}

function webhookEntry(w: AdmissionWebhook, endpoint: WebhookEndpoint, caBundle: string | undefined): ValidatingWebhook {
  const o = w.options;
  return {
    name: w.name,
    admissionReviewVersions: ["v1"],
    clientConfig: clientConfig(endpoint, w.path, caBundle),
    rules: [admissionRule(w)],
    failurePolicy: o.failurePolicy ?? "Fail",
    sideEffects: o.sideEffects ?? "None",
    timeoutSeconds: o.timeoutSeconds ?? 10,
    matchPolicy: "Equivalent",
    ...(o.namespaceSelector ? { namespaceSelector: o.namespaceSelector } : {}),
    ...(o.objectSelector ? { objectSelector: o.objectSelector } : {}),
    ...(o.matchConditions?.length ? { matchConditions: o.matchConditions } : {}),
  };
}

/**
 * The webhook configurations for `webhooks` (named `<name>-validating` and `<name>-mutating`; absent when there
 * are no webhooks of that type).
 */
export function webhookConfigurations(
  name: string,
  webhooks: readonly AdmissionWebhook[],
  endpoint: WebhookEndpoint,
  caBundle?: string,
  labels: Record<string, string> = {},
): { validating?: ValidatingWebhookConfiguration; mutating?: MutatingWebhookConfiguration } {
  const meta = (suffix: string) => ({
    name: `${name}-${suffix}`,
    ...(Object.keys(labels).length ? { labels } : {}),
  });
  const validating = webhooks.filter((w) => w.type === "validating");
  const mutating = webhooks.filter((w) => w.type === "mutating");
  return {
    ...(validating.length
      ? {
          validating: {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingWebhookConfiguration",
            metadata: meta("validating"),
            webhooks: validating.map((w) => webhookEntry(w, endpoint, caBundle)),
          },
        }
      : {}),
    ...(mutating.length
      ? {
          mutating: {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "MutatingWebhookConfiguration",
            metadata: meta("mutating"),
            webhooks: mutating.map((w) => ({ ...webhookEntry(w, endpoint, caBundle), reinvocationPolicy: "Never" })),
          },
        }
      : {}),
  };
}

/** A CRD's conversion stanza: conversion by the webhook at `endpoint`. */
export function conversionStanza(endpoint: WebhookEndpoint, caBundle?: string): CustomResourceConversion {
  return {
    strategy: "Webhook",
    webhook: { conversionReviewVersions: ["v1"], clientConfig: clientConfig(endpoint, conversionPath, caBundle) },
  };
}

/** `crd` with its conversion done by the webhook at `endpoint` (the CRD as `definition.crd()` made it). */
export function withConversionWebhook(
  crd: CustomResourceDefinition,
  endpoint: WebhookEndpoint,
  caBundle?: string,
): CustomResourceDefinition {
  return { ...crd, spec: { ...crd.spec, conversion: conversionStanza(endpoint, caBundle) } };
}

export interface InstallWebhooksOptions {
  /** Prefix of the configurations' names (the operator's name); the field manager is `<name>-webhooks`. */
  name: string;
  webhooks: readonly AdmissionWebhook[];
  conversions: readonly Conversion[];
  endpoint: WebhookEndpoint;
  caBundle: string;
}

/**
 * Applies the webhook configurations and the CRDs' conversion stanzas (the CRDs must exist) pointing at
 * `endpoint` with `caBundle`: what a local run does. Server-side apply, so running it again after a CA rollover
 * only changes the bundles.
 */
export async function installWebhooks(client: KubeClient, o: InstallWebhooksOptions): Promise<void> {
  const { validating, mutating } = webhookConfigurations(o.name, o.webhooks, o.endpoint, o.caBundle);
  // A field manager of its own: applying only the conversion stanza under the CRD's own manager would drop the
  // rest of the CRD from that manager's fields.
  const opts = { force: true, fieldManager: `${o.name}-webhooks` };
  if (validating) await client.apply(ValidatingWebhookConfiguration, validating, opts);
  if (mutating) await client.apply(MutatingWebhookConfiguration, mutating, opts);
  for (const c of o.conversions) {
    await client.apply(
      CustomResourceDefinition,
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: c.crdName },
        spec: { conversion: conversionStanza(o.endpoint, o.caBundle) },
      } as CustomResourceDefinition,
      opts,
    );
  }
}

/**
 * Writes `caBundle` into webhook configurations installed by someone else (a Helm chart, the raw manifests):
 * each webhook entry's `clientConfig.caBundle`, and nothing else; missing configurations are skipped. Each
 * converted CRD gets its whole conversion stanza, pointing at `conversionEndpoint` (CRDs in a Helm chart's
 * `crds/` cannot be templated with the release namespace, so they are installed without one).
 */
export async function injectCaBundle(
  client: KubeClient,
  o: {
    name: string;
    webhooks: readonly AdmissionWebhook[];
    conversions: readonly Conversion[];
    caBundle: string;
    conversionEndpoint?: WebhookEndpoint;
    fieldManager?: string;
  },
): Promise<void> {
  const caBundle = Buffer.from(o.caBundle).toString("base64");
  const fieldManager = o.fieldManager ?? `${o.name}-ca-injector`;
  const patch = async <T extends ValidatingWebhookConfiguration | MutatingWebhookConfiguration>(
    type: ResourceType<T>,
    name: string,
  ) => {
    const current = await client.get(type, name).catch(() => undefined);
    if (!current) return;
    const entries: Array<{ clientConfig: WebhookClientConfig }> = current.webhooks ?? [];
    if (entries.every((w) => w.clientConfig.caBundle === caBundle)) return;
    const webhooks = entries.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } }));
    await client.patch(type, name, "merge", { webhooks }, { fieldManager });
  };
  if (o.webhooks.some((w) => w.type === "validating"))
    await patch(ValidatingWebhookConfiguration, `${o.name}-validating`);
  if (o.webhooks.some((w) => w.type === "mutating")) await patch(MutatingWebhookConfiguration, `${o.name}-mutating`);
  for (const c of o.conversions) {
    const crd = await client.get(CustomResourceDefinition, c.crdName).catch(() => undefined);
    if (!crd) continue;
    const wanted = o.conversionEndpoint
      ? conversionStanza(o.conversionEndpoint, o.caBundle)
      : crd.spec.conversion?.webhook
        ? {
            ...crd.spec.conversion,
            webhook: {
              ...crd.spec.conversion.webhook,
              clientConfig: { ...crd.spec.conversion.webhook.clientConfig, caBundle },
            },
          }
        : undefined;
    if (!wanted || JSON.stringify(wanted) === JSON.stringify(crd.spec.conversion)) continue;
    await client.patch(
      CustomResourceDefinition,
      c.crdName,
      "merge",
      { spec: { conversion: wanted } },
      { fieldManager },
    );
  }
}
