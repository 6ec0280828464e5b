/**
 * The SimpleApp operator without a cluster: its pure parts, and its handler-style controller in a whole Manager on
 * the in-memory FakeClient (milliseconds). The fake does not default or validate against the CRD schema, nor model
 * server-side apply's field ownership; the end-to-end test covers those on a real plane.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appsv1, eventsv1, type Live, Manager } from "converge-sdk";
import { eventually, FakeClient, silentLogger } from "converge-sdk/testing";
import { SimpleApp } from "../src/api.ts";
import { simpleAppController } from "../src/controller.ts";
import { containerName, desiredDeployment, driftOf, specChanges } from "../src/deployment.ts";

const app = (spec: SimpleApp["spec"], name = "my-app"): Live<SimpleApp> => ({
  apiVersion: "example.com/v1",
  kind: "SimpleApp",
  metadata: { name, namespace: "default", uid: "uid-1", resourceVersion: "1", generation: 1 },
  spec,
});

test("the desired Deployment: same name, app label and selector, one container, owned by the SimpleApp", () => {
  const d = desiredDeployment(app({ replicas: 2, image: "nginx:latest" }));
  assert.equal(d.metadata?.name, "my-app");
  assert.equal(d.metadata?.namespace, "default");
  assert.deepEqual(d.metadata?.labels, { app: "my-app" });
  assert.deepEqual(d.spec?.selector.matchLabels, { app: "my-app" });
  assert.deepEqual(d.spec?.template.metadata?.labels, { app: "my-app" });
  assert.equal(d.spec?.replicas, 2);
  assert.deepEqual(d.spec?.template.spec?.containers, [{ name: containerName, image: "nginx:latest" }]);
  assert.deepEqual(d.metadata?.ownerReferences, [
    {
      apiVersion: "example.com/v1",
      kind: "SimpleApp",
      name: "my-app",
      uid: "uid-1",
      controller: true,
      blockOwnerDeletion: true,
    },
  ]);
});

test("an empty spec means one nginx:latest pod, as the CRD's defaults say", () => {
  const d = desiredDeployment(app({}));
  assert.equal(d.spec?.replicas, 1);
  assert.equal(d.spec?.template.spec?.containers[0]?.image, "nginx:latest");
  const schema = SimpleApp.crd().spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec?.properties;
  assert.equal(schema?.replicas?.default, 1);
  assert.equal(schema?.image?.default, "nginx:latest");
});

test("drift: only the fields the operator sets count", () => {
  const desired = desiredDeployment(app({ replicas: 2, image: "nginx:latest" }));
  assert.deepEqual(driftOf(structuredClone(desired), desired), []);
  assert.deepEqual(driftOf(undefined, desired), ["Deployment my-app is missing"]);

  const edited = structuredClone(desired);
  if (edited.spec) edited.spec.replicas = 5;
  const container = edited.spec?.template.spec?.containers[0];
  if (container) container.image = "httpd";
  assert.deepEqual(driftOf(edited, desired), [
    "spec.replicas is 5, not 2",
    "container app's image is httpd, not nginx:latest",
  ]);

  const orphaned = structuredClone(desired);
  if (orphaned.metadata) orphaned.metadata.ownerReferences = [];
  assert.deepEqual(driftOf(orphaned, desired), ["Deployment my-app is not controlled by SimpleApp my-app"]);

  // A field someone else added stays theirs: applying again would not remove it, so it is not drift.
  const extended = structuredClone(desired);
  extended.spec?.template.spec?.containers.push({ name: "sidecar", image: "busybox" });
  if (extended.metadata) extended.metadata.annotations = { note: "by hand" };
  assert.deepEqual(driftOf(extended, desired), []);

  const going = structuredClone(desired);
  if (going.metadata) going.metadata.deletionTimestamp = new Date().toISOString();
  assert.deepEqual(driftOf(going, desired), [], "a Deployment being deleted is recreated once it is gone");
});

test("spec changes are described for logs and events", () => {
  assert.equal(specChanges(undefined, app({ replicas: 2 })), "replicas 2, image nginx:latest");
  assert.equal(
    specChanges(app({ replicas: 2, image: "nginx:latest" }), app({ replicas: 3, image: "nginx:1.27" })),
    "replicas 2 → 3, image nginx:latest → nginx:1.27",
  );
});

test("handlers on the FakeClient: create, update, drift repair, no writes at rest, delete", async (t) => {
  const fake = new FakeClient({ fieldManager: "simple-app-operator" });
  const manager = await Manager.create({ name: "simple-app-operator", client: fake, log: silentLogger });
  manager.add(simpleAppController({ driftCheckMs: 20 }));
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
  await manager.whenLeading();

  const key = { namespace: "default", name: "my-app" };
  const image = () => fake.peek(appsv1.Deployment, key)?.spec?.template.spec?.containers[0]?.image;
  const created = await fake.create(SimpleApp, { metadata: { ...key }, spec: { replicas: 2, image: "nginx:latest" } });
  const deployment = await eventually("the Deployment", () => fake.peek(appsv1.Deployment, key));
  assert.equal(deployment.spec?.replicas, 2);
  assert.equal(image(), "nginx:latest");
  assert.equal(deployment.metadata?.ownerReferences?.[0]?.uid, created.metadata?.uid);
  const handled = await eventually("the SimpleApp to be marked as handled, with the delete handler's finalizer", () => {
    const m = fake.peek(SimpleApp, key)?.metadata;
    return m?.annotations?.["converge.dev/handled.simpleapp"] && m.finalizers?.includes("converge.dev/simpleapp");
  });
  assert.ok(handled);

  await fake.patch(SimpleApp, key, "merge", { spec: { replicas: 3, image: "nginx:1.27" } });
  await eventually("the Deployment to be patched", () => {
    const d = fake.peek(appsv1.Deployment, key);
    return d?.spec?.replicas === 3 && image() === "nginx:1.27";
  });

  await fake.patch(appsv1.Deployment, key, "merge", { spec: { replicas: 1 } });
  await eventually("the hand edit to be undone", () => fake.peek(appsv1.Deployment, key)?.spec?.replicas === 3);
  await fake.delete(appsv1.Deployment, key);
  await eventually("the Deployment to be put back", () => fake.peek(appsv1.Deployment, key)?.spec?.replicas === 3);

  // At rest the drift timer keeps checking (every 20 ms here) but writes nothing.
  await new Promise((r) => setTimeout(r, 100));
  const before = fake.writes().filter((w) => w.kind !== "Event").length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(fake.writes().filter((w) => w.kind !== "Event").length, before, "no writes at rest");

  await fake.delete(SimpleApp, key);
  await eventually("the SimpleApp and its Deployment to be gone", () => {
    return fake.peek(SimpleApp, key) === undefined && fake.peek(appsv1.Deployment, key) === undefined;
  });
  const deletes = fake.writes().filter((w) => w.verb === "delete" && w.kind === "Deployment");
  assert.equal(deletes.length, 2, "the test's own deletion, then the delete handler's (not only garbage collection)");
  await eventually("an event from each handler", () => {
    const reasons = new Set(fake.peekList(eventsv1.Event, "default").map((e) => e.reason));
    return ["Created", "Updated", "DriftRepaired", "Deleted"].every((r) => reasons.has(r));
  });
});
