/**
 * What a cluster needs to reach an operator's webhooks: the Service `<name>-webhook-service` in front of the
 * webhook port, and the Validating/MutatingWebhookConfigurations pointing at it, with each webhook's failure
 * policy, selectors, timeout and match conditions. The CA bundle is left out: the operator makes its
 * certificates and writes the bundle in when it starts (see `webhookOptions`), and it sets the CRDs' conversion
 * stanza the same way, because Helm cannot template the CRDs in a chart's `crds/` with the release namespace.
 */
import { hasWebhooks, webhookNames } from "../operator/webhooks.ts";
import type * as corev1 from "../types/generated/core.v1.ts";
import type * as rbacv1 from "../types/generated/rbac.v1.ts";
import type { KubeObject } from "../types/resource.ts";
import { webhookConfigurations } from "../webhook/configure.ts";
import type { GenerateContext } from "./generator.ts";

/** The webhook server's port in the pod (controller-runtime's). */
export const webhookPort = 9443;

/** The webhook Service: port 443 (what the apiserver calls by default) to the pod's `webhook` port. */
export function webhookServiceObject(
  ctx: GenerateContext,
  labels: Record<string, string>,
  selector: Record<string, string>,
): corev1.Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: webhookNames(ctx.op).service, namespace: ctx.namespace, labels },
    spec: { selector, ports: [{ name: "webhook", port: 443, targetPort: "webhook", protocol: "TCP" }] },
  };
}

/** The webhook configurations (no CA bundle: the operator injects it). */
export function webhookConfigurationObjects(ctx: GenerateContext, labels: Record<string, string>): KubeObject[] {
  const { validating, mutating } = webhookConfigurations(
    webhookNames(ctx.op).configurations,
    ctx.op.webhooks ?? [],
    { service: { name: webhookNames(ctx.op).service, namespace: ctx.namespace } },
    undefined,
    labels,
  );
  return [validating, mutating].filter((o): o is NonNullable<typeof o> => o !== undefined);
}

/**
 * Cluster-wide permissions the webhook machinery needs: patching its own configurations (CA bundle) and the
 * converted CRDs (conversion stanza), each by name.
 */
export function webhookClusterRules(ctx: Pick<GenerateContext, "op">): rbacv1.PolicyRule[] {
  const { op } = ctx;
  const rules: rbacv1.PolicyRule[] = [];
  const names = webhookNames(op);
  const validating = op.webhooks?.some((w) => w.type === "validating");
  const mutating = op.webhooks?.some((w) => w.type === "mutating");
  if (validating) {
    rules.push({
      apiGroups: ["admissionregistration.k8s.io"],
      resources: ["validatingwebhookconfigurations"],
      resourceNames: [`${names.configurations}-validating`],
      verbs: ["get", "patch"],
    });
  }
  if (mutating) {
    rules.push({
      apiGroups: ["admissionregistration.k8s.io"],
      resources: ["mutatingwebhookconfigurations"],
      resourceNames: [`${names.configurations}-mutating`],
      verbs: ["get", "patch"],
    });
  }
  if (op.conversions?.length) {
    rules.push({
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      resourceNames: op.conversions.map((c) => c.crdName),
      verbs: ["get", "patch"],
    });
  }
  return rules;
}

/** Rules in the operator's namespace: its certificate Secret (create cannot be limited to a name). */
export function webhookNamespaceRules(ctx: Pick<GenerateContext, "op">): rbacv1.PolicyRule[] {
  if (!hasWebhooks(ctx.op)) return [];
  return [
    { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
    { apiGroups: [""], resources: ["secrets"], resourceNames: [webhookNames(ctx.op).secret], verbs: ["get", "update"] },
  ];
}
