/**
 * Webhooks as deployed: the Memcached example's generated chart renders the webhook Service and configuration
 * into the release namespace and every rendered object is accepted by the apiserver; its OLM bundle declares the
 * webhook for OLM; and an operator in cluster mode keeps its certificates in a Secret and writes the CA bundle
 * into the configuration the manifests installed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import memcached from "../../examples/memcached/src/operator.ts";
import { Client } from "../../src/client/index.ts";
import { silentLogger } from "../../src/controller/index.ts";
import { webhookObjects } from "../../src/generate/deploy.ts";
import { contextFor } from "../../src/generate/generator.ts";
import { clusterServiceVersion, olmWebhookCertDir } from "../../src/generate/olm.ts";
import { createOperatorManager, installCrds, waitForCrds } from "../../src/operator/index.ts";
import { certificateInfo } from "../../src/pki/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import {
  admissionregistrationv1,
  apiextensionsv1,
  appsv1,
  corev1,
  type KubeObject,
  type ResourceType,
  rbacv1,
  resourceType,
} from "../../src/types/index.ts";
import { runHelm } from "./fixtures/helm.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "webhook-deploy-test" });
test.after(() => client.close());

const typeOfKind: Record<string, ResourceType> = {
  ServiceAccount: corev1.ServiceAccount,
  Service: corev1.Service,
  Deployment: appsv1.Deployment,
  ClusterRole: rbacv1.ClusterRole,
  ClusterRoleBinding: rbacv1.ClusterRoleBinding,
  Role: rbacv1.Role,
  RoleBinding: rbacv1.RoleBinding,
  ValidatingWebhookConfiguration: admissionregistrationv1.ValidatingWebhookConfiguration,
};

test("the chart renders the webhook Service and configuration in the release namespace; the apiserver accepts all", async (t) => {
  const namespace = await plane.namespace(t);
  const home = await mkdtemp(join(tmpdir(), "converge-webhook-chart-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  const chart = fileURLToPath(new URL("../../examples/memcached/charts/memcached-operator", import.meta.url));
  const lint = await runHelm(["lint", "--strict", chart], { home, kubeconfig: plane.kubeconfig });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  const r = await runHelm(["template", "mc", chart, "--namespace", namespace], { home, kubeconfig: plane.kubeconfig });
  assert.equal(r.code, 0, r.stderr);
  const objects = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
  const service = objects.find(
    (o) => o.kind === "Service" && o.metadata?.name === "memcached-operator-webhook-service",
  );
  assert.equal(service?.metadata?.namespace, namespace);
  const vwc = objects.find((o) => o.kind === "ValidatingWebhookConfiguration") as
    | admissionregistrationv1.ValidatingWebhookConfiguration
    | undefined;
  assert.deepEqual(vwc?.webhooks?.[0]?.clientConfig.service, {
    name: "memcached-operator-webhook-service",
    namespace,
    path: "/validate-cache-example-com-v1alpha1-memcached",
    port: 443,
  });
  const deployment = objects.find((o) => o.kind === "Deployment") as appsv1.Deployment;
  const container = deployment.spec?.template.spec?.containers[0];
  assert.ok(container?.ports?.some((p) => p.name === "webhook" && p.containerPort === 9443));
  assert.ok(
    container?.env?.some(
      (e) => e.name === "POD_NAMESPACE" && e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace",
    ),
  );
  const role = objects.find((o) => o.kind === "Role" && o.metadata?.name?.endsWith("-webhook")) as rbacv1.Role;
  assert.ok(role.rules?.some((rule) => rule.resourceNames?.includes("memcached-operator-webhook-certs")));
  for (const o of objects) {
    const type = typeOfKind[o.kind ?? ""];
    assert.ok(type, `a type for ${o.kind}`);
    await client.apply(type, o, { dryRun: true, force: true, fieldValidation: "Strict" }).catch((err: Error) => {
      assert.fail(`${o.kind} ${o.metadata?.name} was rejected: ${err.message}`);
    });
  }
});

test("the OLM bundle declares the webhook for OLM and points the Deployment at OLM's certificates", async (t) => {
  const csvCrd = parse(
    await readFile(
      new URL("../../third_party/crds/operators.coreos.com_clusterserviceversions.yaml", import.meta.url),
      "utf8",
    ),
  ) as apiextensionsv1.CustomResourceDefinition;
  await client.apply(apiextensionsv1.CustomResourceDefinition, csvCrd, { force: true });
  await waitForCrds(client, [csvCrd.metadata?.name ?? ""]);
  const namespace = await plane.namespace(t);
  const csv = clusterServiceVersion(contextFor(memcached));
  assert.deepEqual(
    csv.spec.webhookdefinitions?.map((w) => [w.type, w.generateName, w.webhookPath, w.targetPort]),
    [
      [
        "ValidatingAdmissionWebhook",
        "vmemcached.cache.example.com",
        "/validate-cache-example-com-v1alpha1-memcached",
        9443,
      ],
    ],
  );
  const env = csv.spec.install.spec.deployments[0]?.spec.template.spec?.containers[0]?.env;
  assert.ok(env?.some((e) => e.name === "CONVERGE_WEBHOOK_CERT_DIR" && e.value === olmWebhookCertDir));
  const rules = csv.spec.install.spec.clusterPermissions?.[0]?.rules ?? [];
  assert.ok(!rules.some((r) => r.resources?.includes("validatingwebhookconfigurations")), "OLM injects the CA itself");
  const Csv = resourceType<typeof csv>({
    group: "operators.coreos.com",
    version: "v1alpha1",
    kind: "ClusterServiceVersion",
    plural: "clusterserviceversions",
    namespaced: true,
  });
  await client.apply(
    Csv,
    { ...csv, metadata: { ...csv.metadata, namespace } },
    { dryRun: true, force: true, fieldValidation: "Strict" },
  );
});

test("in a cluster: certificates in a Secret, and the CA bundle written into the installed configuration", async (t) => {
  const namespace = await plane.namespace(t);
  const op = { ...memcached, name: `memcached-operator-${randomBytes(3).toString("hex")}`, namespace };
  await installCrds(client, op);
  // The generated manifests, limited to this test's namespace and not failing closed: the apiserver cannot reach
  // a Service here (no pod network), and other tests create Memcacheds too.
  for (const o of webhookObjects(contextFor(op))) {
    if (o.kind === "ValidatingWebhookConfiguration") {
      const vwc = o as admissionregistrationv1.ValidatingWebhookConfiguration;
      for (const w of vwc.webhooks ?? []) {
        w.namespaceSelector = { matchLabels: { "kubernetes.io/metadata.name": namespace } };
        w.failurePolicy = "Ignore";
      }
      t.after(() =>
        client
          .delete(admissionregistrationv1.ValidatingWebhookConfiguration, vwc.metadata?.name ?? "")
          .then(() => undefined),
      );
    }
    await client.apply(typeOfKind[o.kind ?? ""] as ResourceType, o, { force: true });
  }
  const manager = await createOperatorManager(
    op,
    { client, webhookMode: "cluster", handleSignals: false, log: silentLogger, namespace },
    { CONVERGE_WEBHOOK_ADDRESS: "127.0.0.1:0", POD_NAMESPACE: namespace },
  );
  const running = manager.start({ handleSignals: false });
  t.after(async () => {
    await manager.stop();
    await running;
  });
  const secret = await eventually("the certificate Secret", () =>
    client.get(corev1.Secret, { namespace, name: `${op.name}-webhook-certs` }).catch(() => undefined),
  );
  const cert = Buffer.from(secret.data?.["tls.crt"] ?? "", "base64").toString();
  assert.ok(certificateInfo(cert).names.includes(`${op.name}-webhook-service.${namespace}.svc`));
  const ca = secret.data?.["ca.crt"];
  await eventually("the CA bundle in the configuration", async () => {
    const vwc = await client.get(admissionregistrationv1.ValidatingWebhookConfiguration, `${op.name}-validating`);
    return vwc.webhooks?.every((w) => w.clientConfig.caBundle === ca) ? vwc : undefined;
  });
});
