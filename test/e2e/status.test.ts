/**
 * `ctx.status` on the real plane: the status goes as a PUT at the resourceVersion the reconcile read (the
 * apiserver's cheapest write), and when the object changed in between, the difference goes as a merge patch, so that
 * neither another writer's change nor the operator's own is lost.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { Client } from "../../src/client/index.ts";
import { controller, silentLogger } from "../../src/controller/index.ts";
import { defineResource, Type } from "../../src/definition/index.ts";
import { Manager } from "../../src/manager/index.ts";
import { eventually, type FaultProxy, testPlane } from "../../src/testing/index.ts";
import { apiextensionsv1, type KubeObject } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "status-test" });
test.after(() => client.close());

const Gauge = defineResource({
  group: "test.converge.dev",
  kind: "Gauge",
  versions: {
    v1: {
      spec: Type.Object({ size: Type.Integer() }),
      status: Type.Object({
        observedGeneration: Type.Optional(Type.Integer()),
        size: Type.Optional(Type.Integer()),
        note: Type.Optional(Type.String()),
      }),
    },
  },
});
await client.apply(apiextensionsv1.CustomResourceDefinition, Gauge.crd(), { force: true });

/** A manager whose client goes through a FaultProxy, running one controller that records spec.size in the status. */
async function runThroughProxy(t: TestContext, namespace: string, transform?: (o: KubeObject) => KubeObject) {
  const { proxy, client: operatorClient } = await plane.throughProxy(t, { fieldManager: "status-operator" });
  const manager = await Manager.create({
    name: "status-test",
    client: operatorClient,
    namespace,
    log: silentLogger,
    ...(transform ? { cache: { informerDefaults: { transform } } } : {}),
  });
  manager.add(
    controller("gauge")
      .for(Gauge)
      .withOptions({ backoff: { baseMs: 50, maxMs: 500 } })
      .reconcile(async (gauge, ctx) => {
        await ctx.status((status) => {
          status.observedGeneration = gauge.metadata.generation;
          status.size = gauge.spec.size;
        });
      }),
  );
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
  return proxy;
}

/**
 * The operator's status writes to one Gauge as `verb status`, once each has its answer: the test's own read can see
 * a write's effect before the proxy has passed the apiserver's answer on (status 0 until then).
 */
function statusWrites(proxy: FaultProxy, name: string): Promise<string[]> {
  return eventually(`${name}'s status writes to be answered`, () => {
    const writes = proxy.requests.filter((q) => q.path.endsWith(`/gauges/${name}/status`));
    return writes.every((q) => q.status !== 0) ? writes.map((q) => `${q.verb} ${q.status}`) : undefined;
  });
}

test("the status is PUT at the resourceVersion read; a change in between is merged, and nothing is lost", async (t) => {
  const namespace = await plane.namespace(t);
  const proxy = await runThroughProxy(t, namespace);

  // Nothing in between: one PUT per change, no patch.
  await client.create(Gauge, { metadata: { name: "calm", namespace }, spec: { size: 1 } });
  await eventually("calm's status", async () => {
    const g = await client.get(Gauge, { namespace, name: "calm" });
    return g.status?.size === 1 || undefined;
  });
  assert.deepEqual(await statusWrites(proxy, "calm"), ["update 200"]);

  // The operator's first status write is held while another writer changes the spec and a status field of its own.
  const held = proxy.inject({
    verb: "update",
    subresource: "status",
    path: /\/gauges\/busy\/status$/,
    action: { delayMs: 1_000 },
    times: 1,
  });
  await client.create(Gauge, { metadata: { name: "busy", namespace }, spec: { size: 1 } });
  await eventually("the operator's status write to be on its way", () => held.hits === 1);
  await client.patch(Gauge, { namespace, name: "busy" }, "merge", { spec: { size: 2 } });
  await client.patch(
    Gauge,
    { namespace, name: "busy" },
    "merge",
    { status: { note: "theirs" } },
    { subresource: "status" },
  );

  const final = await eventually("busy's status at generation 2", async () => {
    const g = await client.get(Gauge, { namespace, name: "busy" });
    return g.status?.observedGeneration === 2 ? g : undefined;
  });
  assert.equal(final.status?.size, 2);
  assert.equal(final.status?.note, "theirs", "the other writer's field was kept");
  const writes = await statusWrites(proxy, "busy");
  assert.equal(writes[0], "update 409", `the held PUT met the change: ${writes.join(", ")}`);
  assert.equal(writes[1], "patch 200", `and the difference was merged instead: ${writes.join(", ")}`);
  assert.ok(writes.slice(2).includes("update 200"), `later writes are PUTs again: ${writes.join(", ")}`);
});

test("with a transform, cached objects may be cut: the status goes as a merge patch, never a PUT", async (t) => {
  const namespace = await plane.namespace(t);
  // A transform that drops annotations (to save memory): a PUT of such an object would drop them on the server too.
  const proxy = await runThroughProxy(t, namespace, (o) => ({ ...o, metadata: { ...o.metadata, annotations: {} } }));
  await client.create(Gauge, {
    metadata: { name: "cut", namespace, annotations: { keep: "me" } },
    spec: { size: 3 },
  });
  await eventually("cut's status", async () => {
    const g = await client.get(Gauge, { namespace, name: "cut" });
    return g.status?.size === 3 || undefined;
  });
  assert.deepEqual(await statusWrites(proxy, "cut"), ["patch 200"]);
  const g = await client.get(Gauge, { namespace, name: "cut" });
  assert.deepEqual(g.metadata?.annotations, { keep: "me" });
});
