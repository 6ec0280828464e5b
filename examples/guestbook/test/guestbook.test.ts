/**
 * Guestbook end to end on the real plane (controller-manager, scheduler and kwok: the Deployment gets a ReplicaSet
 * and Ready pods), with Dapr's Component CRD installed from its upstream schema in third_party/crds. The operator runs
 * as `npm start` runs it, in-process (scoped to each test's namespace) and as a separate process.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  apiextensionsv1,
  appsv1,
  Client,
  installCrds,
  isNotFound,
  type KubeObject,
  type ResourceType,
} from "converge-sdk";
import { createOperatorManager, InvalidError, waitForCrds } from "converge-sdk/runtime";
import { eventually, silentLogger, spawnOperator, testPlane } from "converge-sdk/testing";
import { parse } from "yaml";
import { Guestbook } from "../src/api.ts";
import { Component } from "../src/imported/dapr.io_components.ts";
import operator from "../src/operator.ts";

const project = fileURLToPath(new URL("..", import.meta.url));
/** The repository's third_party/crds: upstream CRDs of third-party APIs. */
const thirdPartyCrds = join(project, "..", "..", "third_party", "crds");

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "guestbook-test" });
test.after(() => client.close());

// Dapr's CRD, as Dapr's chart installs it (server-side: the API is Dapr's, not the operator's), then the operator's.
const daprCrd = parse(
  await readFile(join(thirdPartyCrds, "dapr.io_components.yaml"), "utf8"),
) as apiextensionsv1.CustomResourceDefinition;
await client.apply(apiextensionsv1.CustomResourceDefinition, daprCrd, { force: true, fieldManager: "dapr" });
await waitForCrds(client, ["components.dapr.io"]);
await installCrds(client, operator);

const sample = parse(
  await readFile(join(project, "config", "samples", "app_v1alpha1_guestbook.yaml"), "utf8"),
) as Guestbook;

/** Runs the operator as `npm start` does, watching only the test's namespace, until the test ends. */
async function runOperatorIn(t: TestContext, namespace: string): Promise<void> {
  const manager = await createOperatorManager(operator, { client, namespace, log: silentLogger });
  const running = manager.start({ handleSignals: false });
  t.after(async () => {
    await manager.stop();
    await running;
  });
}

/** The object once `check` holds (it may not exist yet). */
const until = <T extends KubeObject>(
  type: ResourceType<T>,
  key: { namespace: string; name: string },
  check: (o: T) => boolean,
  what: string,
  timeoutMs = 30_000,
) =>
  eventually(
    what,
    async () => {
      const o = await client.get(type, key).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
      return o && check(o) ? o : undefined;
    },
    timeoutMs,
  );

const gone = (type: ResourceType, key: { namespace: string; name: string }, what: string, timeoutMs = 30_000) =>
  eventually(
    what,
    () =>
      client.get(type, key).then(
        () => undefined,
        (e: unknown) => isNotFound(e) || Promise.reject(e),
      ),
    timeoutMs,
  );

const isReady = (g: Guestbook) =>
  g.status?.conditions?.some(
    (c) => c.type === "Ready" && c.status === "True" && c.observedGeneration === g.metadata?.generation,
  ) === true;

test("the reference sample: a Dapr-annotated Deployment with Ready pods and an in-memory state store", async (t) => {
  const namespace = await plane.namespace(t);
  await runOperatorIn(t, namespace);
  await client.create(Guestbook, { ...sample, metadata: { ...sample.metadata, namespace } });

  const d = await until(
    appsv1.Deployment,
    { namespace, name: "guestbook-sample-deployment" },
    (x) => (x.status?.readyReplicas ?? 0) === 2,
    "2 Ready pods of guestbook-sample-deployment",
    60_000,
  );
  assert.equal(d.spec?.replicas, 2);
  assert.deepEqual(d.metadata?.labels?.app, "guestbook-sample");
  assert.deepEqual(d.spec?.selector.matchLabels, { app: "guestbook-sample" });
  assert.equal(d.spec?.template.metadata?.annotations?.["dapr.io/enabled"], "true");
  assert.equal(d.spec?.template.metadata?.annotations?.["dapr.io/app-id"], "guestbook");
  assert.equal(d.metadata?.ownerReferences?.[0]?.kind, "Guestbook");
  assert.equal(d.metadata?.ownerReferences?.[0]?.controller, true);

  const c = await client.get(Component, { namespace, name: "guestbook-sample-state" });
  assert.equal(c.spec?.type, "state.in-memory");
  assert.equal(c.spec?.version, "v1");
  assert.deepEqual(c.scopes, ["guestbook"]);
  assert.equal(c.metadata?.ownerReferences?.[0]?.kind, "Guestbook");
  assert.equal(c.metadata?.ownerReferences?.[0]?.name, "guestbook-sample");

  const g = await until(
    Guestbook,
    { namespace, name: "guestbook-sample" },
    isReady,
    "the Guestbook to be Ready",
    60_000,
  );
  assert.equal(g.status?.conditions?.find((x) => x.type === "Degraded")?.status, "False");

  const table = await plane.kubectl(["get", "guestbooks", "-n", namespace]);
  assert.match(table.stdout, /^NAME\s+REPLICAS\s+APP ID\s+READY\s+AGE\n/);
  assert.match(table.stdout, /guestbook-sample\s+2\s+guestbook\s+True\s+\d+s/);
});

test("updates converge: replicas and the Dapr app id reach the Deployment and the Component", async (t) => {
  const namespace = await plane.namespace(t);
  await runOperatorIn(t, namespace);
  await client.create(Guestbook, { metadata: { name: "gb", namespace }, spec: { daprAppId: "gb" } });
  const first = await until(appsv1.Deployment, { namespace, name: "gb-deployment" }, () => true, "the Deployment");
  assert.equal(first.spec?.replicas, 1, "replicas defaults to 1");

  await client.patch(Guestbook, { namespace, name: "gb" }, "merge", { spec: { replicas: 3, daprAppId: "visitors" } });
  await until(
    appsv1.Deployment,
    { namespace, name: "gb-deployment" },
    (d) =>
      d.spec?.replicas === 3 &&
      d.spec.template.metadata?.annotations?.["dapr.io/app-id"] === "visitors" &&
      (d.status?.readyReplicas ?? 0) === 3,
    "3 Ready pods as app visitors",
    60_000,
  );
  await until(
    Component,
    { namespace, name: "gb-state" },
    (c) => c.scopes?.[0] === "visitors",
    "the store scoped to visitors",
  );
  await until(Guestbook, { namespace, name: "gb" }, isReady, "Ready at generation 2", 60_000);
});

test("drift repair: an owned object edited or deleted by hand is put back", async (t) => {
  const namespace = await plane.namespace(t);
  await runOperatorIn(t, namespace);
  await client.create(Guestbook, { metadata: { name: "gb", namespace }, spec: { replicas: 1, daprAppId: "gb" } });
  const key = { namespace, name: "gb-deployment" };
  await until(appsv1.Deployment, key, () => true, "the Deployment");
  const c = await until(Component, { namespace, name: "gb-state" }, () => true, "the Component");

  // Edited by hand: the Dapr annotation and the replicas.
  await client.patch(appsv1.Deployment, key, "merge", {
    spec: { replicas: 4, template: { metadata: { annotations: { "dapr.io/enabled": "false" } } } },
  });
  await until(
    appsv1.Deployment,
    key,
    (d) => d.spec?.replicas === 1 && d.spec.template.metadata?.annotations?.["dapr.io/enabled"] === "true",
    "the Deployment's edit reverted",
  );
  await client.patch(Component, { namespace, name: "gb-state" }, "merge", { spec: { type: "state.redis" } });
  await until(
    Component,
    { namespace, name: "gb-state" },
    (x) => x.spec?.type === "state.in-memory",
    "the Component's edit reverted",
  );

  // Deleted by hand: both come back (new objects).
  await client.delete(Component, { namespace, name: "gb-state" });
  await until(
    Component,
    { namespace, name: "gb-state" },
    (x) => x.metadata?.uid !== c.metadata?.uid && !x.metadata?.deletionTimestamp,
    "the Component back",
  );
  await client.delete(appsv1.Deployment, key);
  await until(
    appsv1.Deployment,
    key,
    (d) => !d.metadata?.deletionTimestamp && d.spec?.replicas === 1,
    "the Deployment back",
  );
});

test("deleting a Guestbook removes its Deployment and its Component", async (t) => {
  const namespace = await plane.namespace(t);
  await runOperatorIn(t, namespace);
  await client.create(Guestbook, { metadata: { name: "bye", namespace }, spec: { replicas: 1, daprAppId: "bye" } });
  await until(appsv1.Deployment, { namespace, name: "bye-deployment" }, () => true, "the Deployment");
  await until(Component, { namespace, name: "bye-state" }, () => true, "the Component");
  await client.delete(Guestbook, { namespace, name: "bye" });
  // The operator's finalizer deletes the children in the foreground (the Deployment's pods go first), which the
  // garbage collector completes once it has discovered the new CRDs (it looks every 30 s).
  await gone(Component, { namespace, name: "bye-state" }, "the Component to be deleted", 90_000);
  await gone(appsv1.Deployment, { namespace, name: "bye-deployment" }, "the Deployment to be deleted", 90_000);
  await gone(Guestbook, { namespace, name: "bye" }, "the Guestbook to be gone", 90_000);
});

test("the CRD rejects a Guestbook without a Dapr app id, naming the field", async (t) => {
  const namespace = await plane.namespace(t);
  await assert.rejects(
    client.create(Guestbook, { metadata: { name: "bad", namespace }, spec: { daprAppId: "" } }),
    (e: unknown) => e instanceof InvalidError && /spec\.daprAppId/.test(e.message),
  );
  await assert.rejects(
    client.create(Guestbook, { metadata: { name: "bad", namespace }, spec: { replicas: -1, daprAppId: "x" } }),
    (e: unknown) => e instanceof InvalidError && /spec\.replicas/.test(e.message),
  );
});

test("npm start runs the operator against KUBECONFIG until SIGTERM", async (t) => {
  const namespace = await plane.namespace(t);
  await using running = await spawnOperator(join(project, "src", "main.ts"), { kubeconfig: plane.kubeconfig });
  await running.ready();
  await client.create(Guestbook, { ...sample, metadata: { ...sample.metadata, namespace } });
  await until(
    appsv1.Deployment,
    { namespace, name: "guestbook-sample-deployment" },
    (d) => d.spec?.replicas === 2,
    "the sample's Deployment",
  );
  await until(Component, { namespace, name: "guestbook-sample-state" }, () => true, "the sample's Component");
  // Deleted while the operator runs: its finalizer needs the operator.
  await client.delete(Guestbook, { namespace, name: "guestbook-sample" });
  await gone(Guestbook, { namespace, name: "guestbook-sample" }, "the sample to be cleaned up", 60_000);
  assert.equal((await running.stop()).code, 0, running.stderr);
});

test("converge generate --check: the generated files are up to date", async () => {
  const main = fileURLToPath(new URL("../../../src/cli/main.ts", import.meta.url));
  const r = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [main, "generate", "--check", "--dir", project], (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: stdout + stderr }),
    ),
  );
  assert.equal(r.code, 0, r.out);
  // Dapr's API is not the operator's: its CRD is not among the generated ones, but its RBAC covers Components.
  const crds = await readFile(join(project, "config", "bundle.yaml"), "utf8");
  assert.doesNotMatch(crds, /name: components\.dapr\.io/);
  assert.match(crds, /- dapr\.io\n\s+resources:\n\s+- components\n/);
});
