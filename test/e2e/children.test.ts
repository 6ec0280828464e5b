/**
 * Declarative children on the real plane (with controller-manager and kwok, so Deployments really become ready):
 * ordering by readiness, drift reverted, pruning, an inactive kind, a rejected child, zero writes at rest, and
 * clean-up in reverse order when the parent is deleted.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { Client, type KubeClient } from "../../src/client/index.ts";
import {
  type ControllerDefinition,
  child,
  controller,
  generationChanged,
  silentLogger,
} from "../../src/controller/index.ts";
import { conditions, defineResource, Type } from "../../src/definition/index.ts";
import { Manager } from "../../src/manager/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import { apiextensionsv1, appsv1, corev1, type ObjectOf, rbacv1, resourceType } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "children-test" });
test.after(() => client.close());

const Stack = defineResource({
  group: "test.converge.dev",
  kind: "Stack",
  versions: {
    v1: {
      spec: Type.Object({
        image: Type.String(),
        withService: Type.Optional(Type.Boolean()),
        badChild: Type.Optional(Type.Boolean()),
      }),
      status: Type.Object({ conditions: Type.Optional(conditions()) }),
    },
  },
});
type Stack = ObjectOf<typeof Stack>;
/**
 * A kind this cluster does not serve, like a ServiceMonitor where Prometheus Operator is not installed (the real
 * ServiceMonitor CRD cannot stand in: other test files install it into the shared plane).
 */
const ServiceMonitor = resourceType({
  group: "unserved.converge.dev",
  version: "v1",
  kind: "ServiceMonitor",
  plural: "servicemonitors",
  namespaced: true,
});

await client.apply(apiextensionsv1.CustomResourceDefinition, Stack.crd(), { force: true });

const stackController = controller("stack")
  .for(Stack)
  .children(
    (stack) => {
      const name = stack.metadata?.name ?? "";
      const labels = { app: name };
      return [
        child(
          corev1.ConfigMap,
          { metadata: { name: `${name}-gate` }, data: { image: stack.spec.image } },
          { id: "gate", ready: (cm) => cm.data?.open === "yes" },
        ),
        child(
          appsv1.Deployment,
          {
            metadata: { name },
            spec: {
              replicas: 1,
              selector: { matchLabels: labels },
              template: { metadata: { labels }, spec: { containers: [{ name: "app", image: stack.spec.image }] } },
            },
          },
          { id: "web", dependsOn: ["gate"] },
        ),
        child(
          corev1.Service,
          { metadata: { name }, spec: { selector: labels, ports: [{ port: 80 }] } },
          { id: "svc", dependsOn: ["web"], when: stack.spec.withService !== false },
        ),
        child(ServiceMonitor, { metadata: { name } }, { id: "monitor" }),
        ...(stack.spec.badChild
          ? [
              child(
                corev1.ConfigMap,
                { metadata: { name: `${name}-bad`, labels: { "bad label!": "x" } } },
                { id: "bad" },
              ),
            ]
          : []),
      ];
    },
    { pollWhileProgressingMs: 500 },
  );

const condition = (s: Stack | undefined, type: string) => s?.status?.conditions?.find((c) => c.type === type);

test("children are applied in dependency order, kept as declared, pruned, and cleaned up in reverse order", async (t) => {
  const namespace = await plane.namespace(t);
  const operatorClient = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "stack" });
  const writes: string[] = [];
  operatorClient.transport.observe({
    request: ({ method }) => {
      if (method !== "GET" && method !== "WATCH") writes.push(method);
    },
  });
  const manager = await Manager.create({
    name: "stack",
    client: operatorClient,
    namespace,
    log: silentLogger,
    cache: { informerDefaults: { resyncMs: 300 } },
  });
  manager.add(stackController);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
    await operatorClient.close();
  });
  await eventually("the Stack CRD to be served", () => client.list(Stack, { namespace }));

  await client.create(Stack, { metadata: { name: "app", namespace }, spec: { image: "nginx:1" } });
  const gate = await eventually("the first child", () => client.get(corev1.ConfigMap, { namespace, name: "app-gate" }));
  assert.equal(gate.metadata?.ownerReferences?.[0]?.kind, "Stack");
  const waiting = await eventually("the parent to say what it waits for", async () => {
    const s = await client.get(Stack, { namespace, name: "app" });
    return condition(s, "Progressing")?.status === "True" ? s : undefined;
  });
  assert.match(condition(waiting, "Progressing")?.message ?? "", /web: waiting for gate/);
  assert.equal(condition(waiting, "Ready")?.status, "False");
  await assert.rejects(
    client.get(appsv1.Deployment, { namespace, name: "app" }),
    /not found/,
    "nothing before its dependency is ready",
  );

  // Open the gate: a field the controller does not own, so it is not reverted.
  await client.patch(corev1.ConfigMap, { namespace, name: "app-gate" }, "merge", { data: { open: "yes" } });
  await eventually(
    "the Deployment, then the Service",
    () => client.get(corev1.Service, { namespace, name: "app" }),
    60_000,
  );
  const deployment = await client.get(appsv1.Deployment, { namespace, name: "app" });
  assert.equal(deployment.status?.availableReplicas, 1, "the Service came after the Deployment was ready");
  const ready = await eventually("the parent to be Ready", async () => {
    const s = await client.get(Stack, { namespace, name: "app" });
    return condition(s, "Ready")?.status === "True" ? s : undefined;
  });
  assert.match(condition(ready, "Ready")?.message ?? "", /inactive: monitor: ServiceMonitor .* is not served/);
  assert.equal(condition(ready, "Degraded")?.status, "False");
  assert.equal(condition(ready, "Ready")?.observedGeneration, ready.metadata?.generation);
  assert.equal((await client.get(corev1.ConfigMap, { namespace, name: "app-gate" })).data?.open, "yes");

  // Drift on an owned field is reverted.
  await client.patch(appsv1.Deployment, { namespace, name: "app" }, "merge", { spec: { replicas: 3 } });
  await eventually("the replicas to be reverted", async () => {
    const d = await client.get(appsv1.Deployment, { namespace, name: "app" });
    return d.spec?.replicas === 1 ? true : undefined;
  });

  // At rest: resyncs every 300 ms reconcile everything, and nothing is written.
  await eventually("the Deployment to settle", async () => {
    const d = await client.get(appsv1.Deployment, { namespace, name: "app" });
    return d.status?.availableReplicas === 1 && d.status.replicas === 1 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 1_000));
  const before = writes.length;
  assert.ok(before >= 5, `the operator's writes are counted (${before})`);
  await new Promise((r) => setTimeout(r, 1_500));
  assert.deepEqual(writes.slice(before), [], "no writes at rest");

  // A child dropped from the desired set is deleted.
  await client.patch(Stack, { namespace, name: "app" }, "merge", { spec: { withService: false } });
  await eventually("the Service to be pruned", () =>
    client.get(corev1.Service, { namespace, name: "app" }).then(
      () => undefined,
      () => true,
    ),
  );

  // A child the apiserver rejects shows on the parent; the others are unaffected.
  await client.patch(Stack, { namespace, name: "app" }, "merge", { spec: { badChild: true } });
  const degraded = await eventually("the parent to be Degraded", async () => {
    const s = await client.get(Stack, { namespace, name: "app" });
    return condition(s, "Degraded")?.status === "True" ? s : undefined;
  });
  assert.match(condition(degraded, "Degraded")?.message ?? "", /bad: metadata\.labels: Invalid value: "bad label!"/);

  // Deleting the parent removes the children, dependents first.
  const deletions: string[] = [];
  const abort = new AbortController();
  const watchDeletes = async (type: typeof corev1.ConfigMap | typeof appsv1.Deployment) => {
    try {
      for await (const ev of client.watch(type as typeof corev1.ConfigMap, { namespace, signal: abort.signal })) {
        if (ev.type === "DELETED") deletions.push(`${ev.object.kind}/${ev.object.metadata?.name}`);
      }
    } catch {}
  };
  const listDeployments = await client.list(appsv1.Deployment, { namespace });
  void watchDeletes(corev1.ConfigMap);
  void watchDeletes(appsv1.Deployment as unknown as typeof corev1.ConfigMap);
  assert.equal(listDeployments.items.length, 1);
  await new Promise((r) => setTimeout(r, 200));
  await client.delete(Stack, { namespace, name: "app" });
  await eventually(
    "the parent to be gone",
    () =>
      client.get(Stack, { namespace, name: "app" }).then(
        () => undefined,
        () => true,
      ),
    60_000,
  );
  abort.abort();
  assert.ok(deletions.includes("Deployment/app") && deletions.includes("ConfigMap/app-gate"), deletions.join(","));
  assert.ok(
    deletions.indexOf("Deployment/app") < deletions.indexOf("ConfigMap/app-gate"),
    `order: ${deletions.join(", ")}`,
  );
});

test("cluster-scoped and cross-namespace children are tracked by label and removed through the finalizer", async (t) => {
  const namespace = await plane.namespace(t);
  const other = await plane.namespace({ name: `${t.name} other`, after: (fn) => t.after(fn) });
  const operatorClient = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "spread" });
  const manager = await Manager.create({ name: "spread", client: operatorClient, log: silentLogger });
  const roleName = `spread-${namespace}`.slice(0, 60);
  manager.add(
    controller("spread")
      .for(Stack)
      .children((stack) =>
        stack.metadata?.namespace === namespace
          ? [
              child(rbacv1.ClusterRole, {
                metadata: { name: roleName },
                rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
              }),
              child(corev1.ConfigMap, { metadata: { name: "elsewhere", namespace: other }, data: { from: namespace } }),
            ]
          : [],
      ),
  );
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
    await operatorClient.close();
  });
  await client.create(Stack, { metadata: { name: "spread", namespace }, spec: { image: "x" } });
  const role = await eventually("the cluster-scoped child", () => client.get(rbacv1.ClusterRole, roleName));
  const remote = await eventually("the child in another namespace", () =>
    client.get(corev1.ConfigMap, { namespace: other, name: "elsewhere" }),
  );
  const parent = await client.get(Stack, { namespace, name: "spread" });
  for (const obj of [role, remote]) {
    assert.equal(obj.metadata?.ownerReferences, undefined, "no owner reference can point across scopes");
    assert.equal(obj.metadata?.labels?.["converge.dev/parent-uid"], parent.metadata?.uid);
    assert.equal(obj.metadata?.annotations?.["converge.dev/parent"], `${namespace}/spread`);
  }
  assert.ok(parent.metadata?.finalizers?.includes("converge.dev/children.spread"));
  await client.delete(Stack, { namespace, name: "spread" });
  await eventually("both children and the parent to be gone", async () => {
    const gone = await Promise.all([
      client.get(rbacv1.ClusterRole, roleName).then(
        () => false,
        () => true,
      ),
      client.get(corev1.ConfigMap, { namespace: other, name: "elsewhere" }).then(
        () => false,
        () => true,
      ),
      client.get(Stack, { namespace, name: "spread" }).then(
        () => false,
        () => true,
      ),
    ]);
    return gone.every(Boolean);
  });
});

/** A manager of one controller on `client`, stopped when the test ends. */
async function runOne(t: TestContext, namespace: string, definition: ControllerDefinition, on: KubeClient = client) {
  const manager = await Manager.create({ name: "children", client: on, namespace, log: silentLogger });
  manager.add(definition);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
}

const stackOf = (name: string) =>
  controller(name)
    .for(Stack, { predicates: [generationChanged] })
    .owns(corev1.ConfigMap)
    .withOptions({ backoff: { baseMs: 50, maxMs: 500 } })
    .children((stack) => [child(corev1.ConfigMap, { metadata: { name: `${stack.metadata.name}-child` }, data: {} })]);

test("with a generationChanged predicate, a new parent gets its finalizer and its children without another change", async (t) => {
  const namespace = await plane.namespace(t);
  await runOne(t, namespace, stackOf("generation"));
  await client.create(Stack, { metadata: { name: "g", namespace }, spec: { image: "x" } });
  await eventually("the child", () => client.get(corev1.ConfigMap, { namespace, name: "g-child" }));
  const parent = await eventually("the Ready condition", async () => {
    const p = await client.get(Stack, { namespace, name: "g" });
    return p.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True") ? p : undefined;
  });
  assert.deepEqual(parent.metadata?.finalizers, ["converge.dev/children.generation"]);
});

test("a child the apiserver answers 503 is retried with backoff, and the parent is never reported Degraded", async (t) => {
  const namespace = await plane.namespace(t);
  const { proxy, client: operatorClient } = await plane.throughProxy(t, { fieldManager: "children-test" });
  const unavailable = proxy.inject({
    verb: "patch",
    path: new RegExp(`/namespaces/${namespace}/configmaps/b-child$`),
    action: { status: 503, message: "the apiserver is overloaded (injected)" },
    times: 3,
  });
  await runOne(t, namespace, stackOf("brownout"), operatorClient);
  const degraded: string[] = [];
  const watching = new AbortController();
  t.after(() => watching.abort());
  void (async () => {
    for await (const e of client.watch(Stack, { namespace, signal: watching.signal })) {
      const c = e.object.status?.conditions?.find((x) => x.type === "Degraded" && x.status === "True");
      if (c) degraded.push(c.message);
    }
  })().catch(() => {});
  await client.create(Stack, { metadata: { name: "b", namespace }, spec: { image: "x" } });
  await eventually("the child, once the apiserver answers", () =>
    client.get(corev1.ConfigMap, { namespace, name: "b-child" }),
  );
  assert.equal(unavailable.hits, 3);
  await eventually("the parent Ready", async () => {
    const p = await client.get(Stack, { namespace, name: "b" });
    return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") || undefined;
  });
  assert.deepEqual(degraded, [], "a transient failure is not a degraded parent");
});

test("the parent's conditions are written only over the status they were computed from: a foreign condition stays", async (t) => {
  const namespace = await plane.namespace(t);
  const { proxy, client: operatorClient } = await plane.throughProxy(t, { fieldManager: "children-test" });
  // The operator's first status write (a PUT at the resourceVersion it read) is held for a second; meanwhile another
  // writer adds its own condition, so the write meets a Conflict and the reconcile runs again on the newer object.
  const held = proxy.inject({
    verb: ["update", "patch"],
    path: new RegExp(`/namespaces/${namespace}/stacks/f/status$`),
    action: { delayMs: 1_000 },
    times: 1,
  });
  await runOne(t, namespace, stackOf("foreign"), operatorClient);
  await client.create(Stack, { metadata: { name: "f", namespace }, spec: { image: "x" } });
  await eventually("the operator's status write to be on its way", () => held.hits === 1);
  const foreign = {
    type: "Backup",
    status: "True" as const,
    reason: "Done",
    message: "written by another controller",
    lastTransitionTime: "2026-01-01T00:00:00Z",
  };
  await client.patch(
    Stack,
    { namespace, name: "f" },
    "merge",
    { status: { conditions: [foreign] } },
    { subresource: "status" },
  );
  const final = await eventually("Ready beside the foreign condition", async () => {
    const p = await client.get(Stack, { namespace, name: "f" });
    const types = (p.status?.conditions ?? []).map((c) => c.type);
    return types.includes("Ready") && types.includes("Backup") ? p : undefined;
  });
  assert.ok(final.status?.conditions?.some((c) => c.type === "Backup"));
  // And it stays: later reconciles keep it too.
  await new Promise((r) => setTimeout(r, 500));
  const later = await client.get(Stack, { namespace, name: "f" });
  assert.ok(
    later.status?.conditions?.some((c) => c.type === "Backup"),
    "the foreign condition was kept",
  );
});
