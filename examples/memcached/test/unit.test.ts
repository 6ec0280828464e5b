/** Fast checks without a cluster: the webhook's decisions, the CRD's CEL rules client-side, and the controller on the fake client. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appsv1, Manager, silentLogger } from "converge-sdk";
import { eventually, FakeClient } from "converge-sdk/testing";
import { Memcached, messages } from "../src/api.ts";
import { conditionsFor, deploymentFor, memcachedController } from "../src/controller.ts";
import { validateMemcached } from "../src/webhook.ts";

const memcached = (spec: Partial<Memcached["spec"]>): Memcached => ({
  apiVersion: "cache.example.com/v1alpha1",
  kind: "Memcached",
  metadata: { name: "m", namespace: "ns", generation: 2 },
  spec: { size: 3, version: "1.6.9", ...spec } as Memcached["spec"],
});

test("the webhook allows size > 0 with a version, and names each field it refuses", () => {
  assert.deepEqual(validateMemcached({ object: memcached({}) }), { allowed: true });
  const denied = validateMemcached({ object: memcached({ size: 0, version: "" }) });
  assert.equal(denied.allowed, false);
  assert.ok(!denied.allowed);
  assert.equal(denied.message, `${messages.size}; ${messages.version}`);
  assert.deepEqual(
    denied.causes?.map((c) => c.field),
    ["spec.size", "spec.version"],
  );
});

test("the CRD carries the CEL rules with the reference messages; the Deployment follows size and version", () => {
  const spec = Memcached.crd().spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
  assert.deepEqual(spec?.properties?.size?.["x-kubernetes-validations"], [
    { rule: "self > 0", message: messages.size },
  ]);
  assert.equal(spec?.["x-kubernetes-validations"]?.[0]?.message, messages.version);
  const d = deploymentFor(memcached({ size: 2, version: "1.6.12" }));
  assert.equal(d.spec?.replicas, 2);
  assert.equal(d.spec?.template.spec?.containers[0]?.image, "memcached:1.6.12");
  assert.deepEqual(d.spec?.selector.matchLabels, d.spec?.template.metadata?.labels);
});

test("conditions: Available only when every pod of the current generation is available", () => {
  const m = memcached({ size: 3 });
  const deployment = (available: number, generation = 1, observed = 1): appsv1.Deployment => ({
    metadata: { name: "m", generation },
    spec: { selector: {}, template: {} },
    status: { availableReplicas: available, updatedReplicas: 3, observedGeneration: observed },
  });
  const get = (c: ReturnType<typeof conditionsFor>, type: string) => c.find((x) => x.type === type);
  const ready = conditionsFor(m, deployment(3));
  assert.equal(get(ready, "Available")?.status, "True");
  assert.equal(get(ready, "Progressing")?.status, "False");
  assert.equal(get(ready, "Available")?.observedGeneration, 2);
  assert.equal(get(conditionsFor(m, deployment(1)), "Available")?.status, "False");
  assert.equal(get(conditionsFor(m, deployment(3, 2, 1)), "Available")?.status, "False", "rollout not observed yet");
  assert.equal(get(conditionsFor(m, undefined), "Progressing")?.status, "True");
});

test("on the fake client: a Memcached gets its Deployment, a finalizer and a status", async () => {
  const client = new FakeClient();
  await client.create(Memcached, { metadata: { name: "m", namespace: "ns" }, spec: { size: 2, version: "1.6.9" } });
  const manager = await Manager.create({ name: "memcached-operator", client, log: silentLogger });
  manager.add(memcachedController());
  const running = manager.start();
  try {
    const d = await eventually("the Deployment", () => client.get(appsv1.Deployment, { namespace: "ns", name: "m" }));
    assert.equal(d.spec?.replicas, 2);
    assert.equal(d.metadata?.ownerReferences?.[0]?.kind, "Memcached");
    const m = await eventually("the status", async () => {
      const o = await client.get(Memcached, { namespace: "ns", name: "m" });
      return o.status?.conditions?.length ? o : undefined;
    });
    assert.deepEqual(m.metadata?.finalizers, ["cache.example.com/finalizer"]);
    assert.equal(
      m.status?.conditions?.find((c) => c.type === "Available")?.status,
      "False",
      "no pods on a fake client",
    );
    const metrics = await manager.metrics.registry.metrics();
    assert.match(metrics, /memcached_reconciles_total\{namespace="ns",name="m"\} [1-9]/);
  } finally {
    await manager.stop();
    await running;
  }
});
