/**
 * The generated RBAC is enough and no more: the HelloWorld operator runs on the real plane as its generated
 * ServiceAccount (a bearer token, not the admin certificate), with leader election, under exactly the
 * ServiceAccount and RBAC objects its generated Helm chart renders (`helm template`); and that token is refused
 * what the operator does not need.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { HelloWorld } from "../../examples/hello-world/src/api.ts";
import helloWorldOperator from "../../examples/hello-world/src/operator.ts";
import { Memcached } from "../../examples/memcached/src/api.ts";
import memcachedOperator from "../../examples/memcached/src/operator.ts";
import { Client, ForbiddenError, type KubeClient } from "../../src/client/index.ts";
import { createLogger } from "../../src/controller/index.ts";
import { contextFor } from "../../src/generate/generator.ts";
import { rbacGenerator, rulesFor } from "../../src/generate/rbac.ts";
import { Manager } from "../../src/manager/index.ts";
import { createOperatorManager, installCrds, type OperatorDefinition } from "../../src/operator/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import {
  admissionregistrationv1,
  type authenticationv1,
  coordinationv1,
  corev1,
  eventsv1,
  type KubeObject,
  type ResourceType,
  rbacv1,
} from "../../src/types/index.ts";
import { runHelm } from "./fixtures/helm.ts";

const plane = await testPlane();
const chartDir = fileURLToPath(new URL("../../examples/hello-world/charts/hello-world-operator", import.meta.url));
const admin = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "rbac-test" });
test.after(() => admin.close());

const typeOfKind: Record<string, ResourceType> = {
  ServiceAccount: corev1.ServiceAccount,
  ClusterRole: rbacv1.ClusterRole,
  ClusterRoleBinding: rbacv1.ClusterRoleBinding,
  Role: rbacv1.Role,
  RoleBinding: rbacv1.RoleBinding,
};

/** A kubeconfig for the plane that authenticates with a bearer token only. */
function tokenKubeconfig(token: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "plane",
        cluster: {
          server: plane.server,
          "certificate-authority-data": Buffer.from(plane.credentials.caCert ?? "").toString("base64"),
        },
      },
    ],
    users: [{ name: "operator", user: { token } }],
    contexts: [{ name: "operator", context: { cluster: "plane", user: "operator" } }],
    "current-context": "operator",
  });
}

const gone = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    () => true,
  );

/** Fails after `ms` instead of waiting for ever (a lease that cannot be taken, a watch that never delivers). */
async function within<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const forbidden = (what: string, p: Promise<unknown>) =>
  assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ForbiddenError, `${what}: expected Forbidden, got ${(err as Error)?.message}`);
    return true;
  });

test("HelloWorld runs under its Helm chart's RBAC as its ServiceAccount, and is refused anything else", async (t) => {
  const namespace = await plane.namespace(t);
  // A release name that holds the chart's name is the objects' full name (ServiceAccount, ClusterRole...): unique
  // here, so that parallel test files (and other runs of this one) cannot rebind the cluster-scoped objects.
  const release = `${helloWorldOperator.name}-${randomBytes(3).toString("hex")}`;
  const op: OperatorDefinition = { ...helloWorldOperator, name: release, namespace };
  const ctx = contextFor(op);
  assert.equal(ctx.namespace, namespace);

  // The chart `converge generate` wrote into the example (kept fresh by its `generate --check` test), rendered by
  // helm for this release: its ServiceAccount and RBAC are exactly what gets applied.
  const home = await mkdtemp(join(tmpdir(), "converge-rbac-helm-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  const rendered = await runHelm(
    [
      "template",
      release,
      chartDir,
      "--namespace",
      namespace,
      "--show-only",
      "templates/serviceaccount.yaml",
      "--show-only",
      "templates/rbac.yaml",
    ],
    { home, kubeconfig: plane.kubeconfig },
  );
  assert.equal(rendered.code, 0, rendered.stderr);
  const objects = parseAllDocuments(rendered.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
  assert.deepEqual(
    objects.map((o) => o.kind),
    ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
  );
  assert.equal(objects[0]?.metadata?.name, release);
  t.after(async () => {
    for (const o of objects) {
      const type = typeOfKind[o.kind ?? ""] as ResourceType;
      if (!type.namespaced) await admin.delete(type, o.metadata?.name ?? "").catch(() => undefined);
    }
  });
  // The chart's rules are the operator's computed rules, which are those of the raw manifests too.
  const [raw] = await rbacGenerator.generate(ctx);
  const rawRole = parseAllDocuments(raw?.content ?? "")
    .map((d) => d.toJS() as KubeObject)
    .find((o) => o.kind === "ClusterRole") as rbacv1.ClusterRole;
  assert.deepEqual((objects[1] as rbacv1.ClusterRole).rules, rulesFor(op));
  assert.deepEqual(rawRole.rules, rulesFor(op));
  assert.deepEqual(rulesFor(op), [
    {
      apiGroups: [""],
      resources: ["configmaps"],
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    },
    { apiGroups: ["apps.example.com"], resources: ["helloworlds"], verbs: ["get", "list", "patch", "update", "watch"] },
    { apiGroups: ["apps.example.com"], resources: ["helloworlds/finalizers"], verbs: ["update"] },
    { apiGroups: ["apps.example.com"], resources: ["helloworlds/status"], verbs: ["get", "patch", "update"] },
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  ]);

  for (const o of objects) await admin.apply(typeOfKind[o.kind ?? ""] as ResourceType, o, { force: true });

  // CRDs are installed by an administrator, not by the operator.
  await installCrds(admin, op);

  const request = (await admin.transport.json<authenticationv1.TokenRequest>({
    method: "POST",
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${op.name}/token`,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  })) as authenticationv1.TokenRequest;
  const token = request.status?.token;
  assert.ok(token, "a token for the operator's ServiceAccount");
  const dir = await mkdtemp(join(tmpdir(), "converge-rbac-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, "operator.kubeconfig");
  await writeFile(kubeconfig, tokenKubeconfig(token));

  // The operator, as runOperator runs it but on the ServiceAccount's token, with the lease in the operator's
  // namespace, and watching the test namespace only: the plane is shared, and a HelloWorld operator for all
  // namespaces would reconcile (and put finalizers on) the HelloWorlds of other test files. That the ClusterRole
  // covers every namespace is checked below with the same token. Warnings and errors are kept: a denied request
  // shows up there.
  const client: KubeClient = await Client.connect({ kubeconfig, fieldManager: op.name });
  const logged: string[] = [];
  const log = createLogger({
    level: "warn",
    base: { operator: op.name },
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(chunk.toString());
        done();
      },
    }),
  });
  const manager = await Manager.create({
    name: op.name,
    client,
    log,
    namespace,
    leaderElection: { namespace: ctx.namespace },
    shutdownTimeoutMs: 10_000,
  });
  for (const c of op.controllers) manager.add(c);
  const running = manager.start();
  let stopped = false;
  t.after(async () => {
    if (!stopped) await manager.stop();
    await client.close();
  });
  // A failure to start (a cache that cannot list or watch, a lease that cannot be taken) rejects `running`.
  await within(30_000, "leadership", () =>
    Promise.race([manager.whenLeading(), running.then(() => assert.fail("the manager stopped"))]),
  );
  const lease = await client.get(coordinationv1.Lease, { namespace, name: `${op.name}-leader` });
  assert.match(lease.spec?.holderIdentity ?? "", /.+/);

  // End to end, as the ServiceAccount: a HelloWorld gets its ConfigMap and Ready; deletion cleans up.
  await admin.create(HelloWorld, { metadata: { name: "greeting", namespace }, spec: { name: "world" } });
  const cm = await eventually("the ConfigMap with the greeting", async () => {
    const c = await admin.get(corev1.ConfigMap, { namespace, name: "greeting" });
    return c.data?.message === "world" ? c : undefined;
  });
  assert.equal(cm.metadata?.ownerReferences?.[0]?.kind, "HelloWorld");
  assert.equal(cm.metadata?.ownerReferences?.[0]?.blockOwnerDeletion, true);
  await eventually("the HelloWorld to be Ready", async () => {
    const hw = await admin.get(HelloWorld, { namespace, name: "greeting" });
    return hw.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  });
  await admin.patch(HelloWorld, { namespace, name: "greeting" }, "merge", { spec: { name: "RBAC" } });
  await eventually("the ConfigMap to follow the change", async () => {
    const c = await admin.get(corev1.ConfigMap, { namespace, name: "greeting" });
    return c.data?.message === "RBAC";
  });
  await admin.delete(corev1.ConfigMap, { namespace, name: "greeting" });
  await eventually("the deleted ConfigMap to be put back", async () => {
    const c = await admin.get(corev1.ConfigMap, { namespace, name: "greeting" });
    return c.data?.message === "RBAC";
  });
  await admin.delete(HelloWorld, { namespace, name: "greeting" });
  await eventually("the ConfigMap to be deleted with its HelloWorld", () =>
    gone(admin.get(corev1.ConfigMap, { namespace, name: "greeting" })),
  );
  await eventually("the HelloWorld's finalizer to be removed", () =>
    gone(admin.get(HelloWorld, { namespace, name: "greeting" })),
  );

  // What it may do besides: record events in any namespace (here, the test namespace).
  await client.create(eventsv1.Event, {
    metadata: { name: "rbac-test", namespace },
    eventTime: `${new Date().toISOString().slice(0, 23)}000Z`,
    reportingController: op.name,
    reportingInstance: "rbac-test",
    action: "Test",
    reason: "Test",
    type: "Normal",
    regarding: { apiVersion: "v1", kind: "ConfigMap", name: "greeting", namespace },
  });

  // In every namespace: an operator that watches all namespaces lists and watches its kinds cluster-wide.
  await client.list(HelloWorld, { limit: 1 });
  const watching = new AbortController();
  const list = await client.list(corev1.ConfigMap, { limit: 1 });
  const watch = client.watch(corev1.ConfigMap, {
    resourceVersion: list.metadata?.resourceVersion ?? "",
    signal: watching.signal,
  });
  await client.create(corev1.ConfigMap, { metadata: { name: "watched", namespace } });
  await within(30_000, "a cluster-wide watch event", async () => {
    for await (const ev of watch) if (ev.object.metadata?.name === "watched") return;
  });
  watching.abort();

  // And nothing more.
  await forbidden("create a Secret", client.create(corev1.Secret, { metadata: { name: "s", namespace } }));
  await forbidden("list Secrets", client.list(corev1.Secret, { namespace }));
  await forbidden("list Pods", client.list(corev1.Pod, { namespace }));
  await forbidden("list Pods in all namespaces", client.list(corev1.Pod));
  await forbidden("delete a HelloWorld", client.delete(HelloWorld, { namespace, name: "anything" }));
  await forbidden(
    "create a HelloWorld",
    client.create(HelloWorld, { metadata: { namespace, name: "x" }, spec: { name: "x" } }),
  );
  await forbidden(
    "create a core/v1 Event",
    client.create(corev1.Event, { metadata: { name: "e", namespace }, involvedObject: {} }),
  );
  await forbidden("read a Lease in another namespace", client.list(coordinationv1.Lease, { namespace: "default" }));
  await forbidden(
    "create a Lease in another namespace",
    client.create(coordinationv1.Lease, { metadata: { name: "x", namespace: "kube-system" }, spec: {} }),
  );
  await forbidden("create a Role", client.create(rbacv1.Role, { metadata: { name: "r", namespace } }));

  stopped = true;
  await manager.stop();
  await running;
  // The lease was released on shutdown (an update under the Role).
  const released = await admin.get(coordinationv1.Lease, { namespace, name: `${op.name}-leader` });
  assert.equal(released.spec?.holderIdentity ?? "", "");
  // Nothing the operator did was denied (a denied event write or reconcile would be logged).
  const denied = logged.filter((l) => /forbidden: User .* cannot /.test(l));
  assert.deepEqual(denied, [], "no request of the operator was denied");
});

test("Memcached, with its webhook, runs under its chart's RBAC in cluster mode: Secret, CA bundle, reconciles", async (t) => {
  const namespace = await plane.namespace(t);
  // The operator's own name: its RBAC names its webhook configuration and Secret by it.
  const op: OperatorDefinition = { ...memcachedOperator, namespace };
  const release = `${op.name}-${randomBytes(3).toString("hex")}`;
  const home = await mkdtemp(join(tmpdir(), "converge-rbac-helm-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  const chart = fileURLToPath(new URL("../../examples/memcached/charts/memcached-operator", import.meta.url));
  const rendered = await runHelm(
    [
      "template",
      release,
      chart,
      "--namespace",
      namespace,
      ...["serviceaccount", "rbac", "webhook"].flatMap((f) => ["--show-only", `templates/${f}.yaml`]),
    ],
    { home, kubeconfig: plane.kubeconfig },
  );
  assert.equal(rendered.code, 0, rendered.stderr);
  const objects = parseAllDocuments(rendered.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
  const types: Record<string, ResourceType> = {
    ...typeOfKind,
    Service: corev1.Service,
    ValidatingWebhookConfiguration: admissionregistrationv1.ValidatingWebhookConfiguration,
  };
  t.after(async () => {
    for (const o of objects) {
      const type = types[o.kind ?? ""] as ResourceType;
      if (!type.namespaced) await admin.delete(type, o.metadata?.name ?? "").catch(() => undefined);
    }
  });
  for (const o of objects) {
    if (o.kind === "ValidatingWebhookConfiguration") {
      // No pod network here: the apiserver cannot call the Service, so this test's namespace only, failing open.
      for (const w of (o as admissionregistrationv1.ValidatingWebhookConfiguration).webhooks ?? []) {
        w.namespaceSelector = { matchLabels: { "kubernetes.io/metadata.name": namespace } };
        w.failurePolicy = "Ignore";
      }
    }
    await admin.apply(types[o.kind ?? ""] as ResourceType, o, { force: true });
  }
  await installCrds(admin, op);

  const request = (await admin.transport.json<authenticationv1.TokenRequest>({
    method: "POST",
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${release}/token`,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  })) as authenticationv1.TokenRequest;
  const dir = await mkdtemp(join(tmpdir(), "converge-rbac-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, "operator.kubeconfig");
  await writeFile(kubeconfig, tokenKubeconfig(request.status?.token ?? ""));
  const client = await Client.connect({ kubeconfig, fieldManager: op.name });
  const logged: string[] = [];
  const log = createLogger({
    level: "warn",
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(chunk.toString());
        done();
      },
    }),
  });
  // As the generated Deployment runs it: cluster mode, leader election, the pod's namespace.
  const manager = await createOperatorManager(
    op,
    {
      client,
      namespace,
      log,
      leaderElection: { namespace },
      handleSignals: false,
      webhookMode: "cluster",
      shutdownTimeoutMs: 10_000,
    },
    { CONVERGE_WEBHOOK_ADDRESS: "127.0.0.1:0", POD_NAMESPACE: namespace },
  );
  const running = manager.start({ handleSignals: false });
  t.after(async () => {
    await manager.stop();
    await running;
    await client.close();
  });
  await within(30_000, "leadership", () =>
    Promise.race([manager.whenLeading(), running.then(() => assert.fail("the manager stopped"))]),
  );
  const secret = await eventually("the certificate Secret", () =>
    admin.get(corev1.Secret, { namespace, name: `${op.name}-webhook-certs` }).catch(() => undefined),
  );
  await eventually("the CA bundle in the chart's configuration", async () => {
    const vwc = await admin.get(admissionregistrationv1.ValidatingWebhookConfiguration, `${op.name}-validating`);
    return vwc.webhooks?.every((w) => w.clientConfig.caBundle === secret.data?.["ca.crt"]) ? vwc : undefined;
  });
  await admin.create(Memcached, { metadata: { name: "mc", namespace }, spec: { size: 2, version: "1.6.9" } });
  await eventually("the Memcached's pods in its status", async () => {
    const m = await admin.get(Memcached, { namespace, name: "mc" });
    return m.status?.nodes?.length === 2 ? m : undefined;
  });
  await forbidden("read Secrets other than its own", client.get(corev1.Secret, { namespace, name: "other" }));
  await forbidden("delete a Pod", client.delete(corev1.Pod, { namespace, name: "any" }));
  await forbidden(
    "patch another webhook configuration",
    client.patch(admissionregistrationv1.ValidatingWebhookConfiguration, "other", "merge", {
      metadata: { labels: { a: "b" } },
    }),
  );
  const denied = logged.filter((l) => /forbidden: User .* cannot /.test(l));
  assert.deepEqual(denied, [], "no request of the operator was denied");
});
