/**
 * The SimpleApp operator on a real control plane with controller-manager, scheduler and kwok nodes, so that its
 * Deployments get real ReplicaSets and Ready pods: the reference sample, updates, drift repair, deletion with its
 * Deployment, the CRD's defaults and validation, and `npm start` as its own process, restarted.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  appsv1,
  Client,
  corev1,
  installCrds,
  isNotFound,
  type KubeObject,
  Manager,
  type ResourceType,
} from "converge-sdk";
import { generators, runGenerate } from "converge-sdk/generate";
import { InvalidError } from "converge-sdk/runtime";
import { eventually, silentLogger, spawnOperator, testPlane } from "converge-sdk/testing";
import { parse } from "yaml";
import { SimpleApp } from "../src/api.ts";
import { simpleAppController } from "../src/controller.ts";
import { containerName } from "../src/deployment.ts";
import operator from "../src/operator.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: operator.name });
test.after(() => client.close());
await installCrds(client, operator);

/** The reference material's sample, `my-app`: 2 replicas of nginx:latest. */
const sample = parse(await readFile(new URL("../config/samples/simpleapp.yaml", import.meta.url), "utf8")) as SimpleApp;

const gone = <T extends KubeObject>(type: ResourceType<T>, namespace: string, name: string) =>
  client.get(type, { namespace, name }).then(() => false, isNotFound);

/** The Deployment once it has the replicas and image asked for and all its pods are Ready. */
const rolledOut = (namespace: string, name: string, replicas: number, image: string) =>
  eventually(`Deployment ${name}: ${replicas} Ready pods of ${image}`, async () => {
    const d = await client.get(appsv1.Deployment, { namespace, name });
    const s = d.status;
    const done =
      d.spec?.replicas === replicas &&
      d.spec.template.spec?.containers[0]?.image === image &&
      s?.observedGeneration === d.metadata?.generation &&
      s?.updatedReplicas === replicas &&
      s?.readyReplicas === replicas &&
      s?.replicas === replicas;
    return done ? d : undefined;
  });

test("the sample my-app: a Deployment of 2 Ready pods, patched on update, put back after drift, deleted with it", async (t) => {
  const namespace = await plane.namespace(t);
  const manager = await Manager.create({ name: operator.name, client, namespace, log: silentLogger });
  manager.add(simpleAppController());
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });

  const app = await client.create(SimpleApp, { ...sample, metadata: { ...sample.metadata, namespace } });
  assert.deepEqual(app.spec, { replicas: 2, image: "nginx:latest" });
  const deployment = await rolledOut(namespace, "my-app", 2, "nginx:latest");
  assert.deepEqual(deployment.metadata?.labels, { app: "my-app" });
  assert.deepEqual(deployment.spec?.selector.matchLabels, { app: "my-app" });
  assert.deepEqual(
    deployment.spec?.template.spec?.containers.map((c) => [c.name, c.image]),
    [[containerName, "nginx:latest"]],
  );
  const owner = deployment.metadata?.ownerReferences?.[0];
  assert.deepEqual(
    [owner?.kind, owner?.name, owner?.uid, owner?.controller],
    ["SimpleApp", "my-app", app.metadata?.uid, true],
  );
  const pods = await client.list(corev1.Pod, { namespace, labelSelector: "app=my-app" });
  assert.equal(pods.items.length, 2);
  for (const pod of pods.items) {
    assert.equal(pod.status?.phase, "Running", `pod ${pod.metadata?.name} runs on a kwok node`);
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "ReplicaSet");
  }

  // Update: the update handler patches the Deployment, which rolls out the new image.
  await client.patch(SimpleApp, { namespace, name: "my-app" }, "merge", { spec: { replicas: 3, image: "nginx:1.27" } });
  const updated = await rolledOut(namespace, "my-app", 3, "nginx:1.27");
  assert.equal(updated.metadata?.uid, deployment.metadata?.uid, "patched, not recreated");

  // Drift: a hand edit (as kubectl scale or edit would make) is undone, and a deletion by hand is put back.
  await client.patch(
    appsv1.Deployment,
    { namespace, name: "my-app" },
    "merge",
    { spec: { replicas: 1 } },
    { fieldManager: "kubectl-edit" },
  );
  await eventually("the hand-edited replicas to be put back", async () => {
    const d = await client.get(appsv1.Deployment, { namespace, name: "my-app" });
    return d.spec?.replicas === 3;
  });
  await client.delete(appsv1.Deployment, { namespace, name: "my-app" });
  const recreated = await rolledOut(namespace, "my-app", 3, "nginx:1.27");
  assert.notEqual(recreated.metadata?.uid, deployment.metadata?.uid, "a new Deployment");
  assert.equal(recreated.metadata?.ownerReferences?.[0]?.uid, app.metadata?.uid);

  // Delete: the delete handler runs (it holds a finalizer), then garbage collection removes the Deployment.
  await client.delete(SimpleApp, { namespace, name: "my-app" });
  await eventually("the SimpleApp to be gone", () => gone(SimpleApp, namespace, "my-app"));
  await eventually("the Deployment to be garbage-collected", () => gone(appsv1.Deployment, namespace, "my-app"));
  const events = await client.list(corev1.Event, { namespace, fieldSelector: "involvedObject.kind=SimpleApp" });
  const reasons = new Set(events.items.map((e) => e.reason));
  for (const r of ["Created", "Updated", "DriftRepaired", "Deleted"]) assert.ok(reasons.has(r), `a ${r} event`);
});

/** `npm start`'s program as its own process against the plane. */
const startOperator = () => spawnOperator(new URL("../src/main.ts", import.meta.url), { kubeconfig: plane.kubeconfig });

test("npm start runs the operator until SIGTERM; after a restart the create handler does not run again", async (t) => {
  const namespace = await plane.namespace(t);
  await using first = await startOperator();
  await first.ready();
  await client.create(SimpleApp, { ...sample, metadata: { ...sample.metadata, namespace } });
  const created = await rolledOut(namespace, "my-app", 2, "nginx:latest");
  assert.equal((await first.stop()).code, 0, first.stderr);

  // The restarted operator knows the SimpleApp was handled (its annotation says so): it only repairs drift.
  await using second = await startOperator();
  await second.ready();
  await client.delete(appsv1.Deployment, { namespace, name: "my-app" });
  const recreated = await rolledOut(namespace, "my-app", 2, "nginx:latest");
  assert.notEqual(recreated.metadata?.uid, created.metadata?.uid);
  const events = await client.list(corev1.Event, { namespace, fieldSelector: "involvedObject.kind=SimpleApp" });
  assert.deepEqual(
    events.items.map((e) => e.reason).sort(),
    ["Created", "DriftRepaired"],
    "one Created event, from the first process",
  );

  // Deleted while the operator runs: the delete handler's finalizer needs it.
  await client.delete(SimpleApp, { namespace, name: "my-app" });
  await eventually("the sample to be gone", () => gone(SimpleApp, namespace, "my-app"));
  await eventually("its Deployment to be gone", () => gone(appsv1.Deployment, namespace, "my-app"));
  assert.equal((await second.stop()).code, 0, second.stderr);
});

test("the generated files are up to date; the apiserver defaults and validates SimpleApps", async (t) => {
  const project = fileURLToPath(new URL("..", import.meta.url));
  const { outOfDate } = await runGenerate(project, operator, generators, { check: true });
  assert.deepEqual(
    outOfDate.map((c) => `${c.state} ${c.path}`),
    [],
    "generated files are stale: run npm run generate",
  );

  const namespace = await plane.namespace(t);
  const defaulted = await client.create(SimpleApp, { metadata: { name: "defaults", namespace }, spec: {} });
  assert.deepEqual(defaulted.spec, { replicas: 1, image: "nginx:latest" });

  await assert.rejects(
    client.create(SimpleApp, { metadata: { name: "negative", namespace }, spec: { replicas: -1 } }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidError);
      assert.match(
        err.message,
        /spec\.replicas: Invalid value: -1: spec\.replicas in body should be greater than or equal to 0/,
      );
      return true;
    },
  );
  await assert.rejects(
    client.create(SimpleApp, { metadata: { name: "no-image", namespace }, spec: { image: "" } }),
    /spec\.image: Invalid value: "": spec\.image in body should be at least 1 chars long/,
  );
  await assert.rejects(
    client.create(SimpleApp, { metadata: { name: "a".repeat(64), namespace }, spec: {} }),
    /metadata\.name must be at most 63 characters: it is the Deployment's app label/,
  );

  const table = await client.transport.json<{
    columnDefinitions: Array<{ name: string }>;
    rows: Array<{ cells: unknown[] }>;
  }>({
    method: "GET",
    path: `/apis/example.com/v1/namespaces/${namespace}/simpleapps`,
    accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
  });
  assert.deepEqual(
    table.columnDefinitions.map((c) => c.name),
    ["Name", "Replicas", "Image", "Age"],
  );
  assert.deepEqual(table.rows[0]?.cells.slice(0, 3), ["defaults", 1, "nginx:latest"]);
});
