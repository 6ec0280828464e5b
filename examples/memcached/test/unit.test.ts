/** Fast checks without a cluster: the webhook's decisions, the CRD's CEL rules client-side, and the controller on the fake client. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appsv1, type Condition, type Live, Manager } from "converge-sdk";
import { Conditions } from "converge-sdk/runtime";
import { eventually, FakeClient, silentLogger } from "converge-sdk/testing";
import { Memcached, messages } from "../src/api.ts";
import { memcachedController, setConditions } from "../src/controller.ts";
import { deploymentFor } from "../src/deployment.ts";
import { validateMemcached } from "../src/webhook.ts";

const memcached = (spec: Partial<Memcached["spec"]>): Live<Memcached, true> => ({
  apiVersion: "cache.example.com/v1alpha1",
  kind: "Memcached",
  metadata: { name: "m", namespace: "ns", uid: "u", resourceVersion: "1", generation: 2 },
  spec: { size: 3, version: "1.6.9", ...spec },
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
  assert.equal(d.spec?.template?.spec?.containers?.[0]?.image, "memcached:1.6.12");
  assert.deepEqual(d.spec?.selector?.matchLabels, d.spec?.template?.metadata?.labels);
});

test("conditions: Available only when every pod of the current generation is available", () => {
  const deployment = (available: number, generation = 1, observed = 1): appsv1.Deployment => ({
    metadata: { name: "m", generation },
    spec: { selector: {}, template: {} },
    status: { availableReplicas: available, updatedReplicas: 3, observedGeneration: observed },
  });
  const conditionsOf = (d: appsv1.Deployment) => {
    const holder: { conditions?: Condition[] } = {};
    setConditions(new Conditions(holder, 2), 3, d);
    return new Conditions(holder, 2);
  };
  const ready = conditionsOf(deployment(3));
  assert.equal(ready.get("Available")?.status, "True");
  assert.equal(ready.get("Progressing")?.status, "False");
  assert.equal(ready.get("Available")?.observedGeneration, 2);
  assert.equal(conditionsOf(deployment(1)).get("Available")?.status, "False");
  assert.equal(conditionsOf(deployment(3, 2, 1)).get("Available")?.status, "False", "rollout not observed yet");
  assert.equal(conditionsOf(deployment(1)).get("Progressing")?.status, "True");
});

test("on the fake client: a Memcached gets its Deployment, a finalizer and a status", async () => {
  const client = new FakeClient();
  await client.create(Memcached, { metadata: { name: "m", namespace: "ns" }, spec: { size: 2, version: "1.6.9" } });
  const manager = await Manager.create({ name: "memcached-operator", client, log: silentLogger });
  manager.add(memcachedController);
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
