import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { apiextensionsv1, Client, corev1, Manager } from "converge-sdk";
import { ensureBinaries } from "converge-sdk/cluster";
import { generators, runGenerate } from "converge-sdk/generate";
import { InvalidError } from "converge-sdk/runtime";
import { eventually, silentLogger, spawnOperator, testPlane } from "converge-sdk/testing";
import { parse } from "yaml";
import { HelloWorld } from "../src/api.ts";
import { helloWorldController } from "../src/controller.ts";
import operator from "../src/operator.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "hello-world-test" });
test.after(() => client.close());

await client.apply(apiextensionsv1.CustomResourceDefinition, HelloWorld.crd(), { force: true });

const message = (namespace: string, name: string, expected?: string) =>
  eventually(`ConfigMap ${name}${expected ? ` with message ${expected}` : ""}`, async () => {
    const cm = await client.get(corev1.ConfigMap, { namespace, name });
    return expected === undefined || cm.data?.message === expected ? cm : undefined;
  });

test("HelloWorld: create, update, repair and delete through its ConfigMap", async (t) => {
  const namespace = await plane.namespace(t);
  const manager = await Manager.create({ name: "hello-world-operator", client, namespace, log: silentLogger });
  manager.add(helloWorldController);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
  await eventually("the CRD to be served", () => client.list(HelloWorld, { namespace }));

  await client.create(HelloWorld, { metadata: { name: "greeting", namespace }, spec: { name: "world" } });
  const cm = await message(namespace, "greeting", "world");
  assert.equal(cm.metadata?.ownerReferences?.[0]?.kind, "HelloWorld");
  assert.equal(cm.metadata?.ownerReferences?.[0]?.controller, true);
  const hw = await eventually("the HelloWorld to be Ready", async () => {
    const o = await client.get(HelloWorld, { namespace, name: "greeting" });
    return o.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True") ? o : undefined;
  });
  assert.equal(hw.status?.conditions?.find((c) => c.type === "Ready")?.observedGeneration, 1);

  await client.patch(HelloWorld, { namespace, name: "greeting" }, "merge", { spec: { name: "Converge" } });
  await message(namespace, "greeting", "Converge");

  await client.patch(corev1.ConfigMap, { namespace, name: "greeting" }, "merge", { data: { message: "tampered" } });
  await message(namespace, "greeting", "Converge");

  await client.delete(HelloWorld, { namespace, name: "greeting" });
  await eventually("the ConfigMap to be deleted with its HelloWorld", () =>
    client.get(corev1.ConfigMap, { namespace, name: "greeting" }).then(
      () => undefined,
      () => true,
    ),
  );
  await eventually("the HelloWorld to be gone", () =>
    client.get(HelloWorld, { namespace, name: "greeting" }).then(
      () => undefined,
      () => true,
    ),
  );
});

test("npm start installs the CRD and runs the operator against KUBECONFIG until SIGTERM", async (t) => {
  const namespace = await plane.namespace(t);
  const main = new URL("../src/main.ts", import.meta.url);
  await using running = await spawnOperator(main, { kubeconfig: plane.kubeconfig });
  await running.ready();
  const sample = parse(
    await readFile(new URL("../config/samples/helloworld.yaml", import.meta.url), "utf8"),
  ) as HelloWorld;
  await client.create(HelloWorld, { ...sample, metadata: { ...sample.metadata, namespace } });
  await message(namespace, "helloworld-sample", "world");
  // Delete it while the operator runs: its finalizer needs the operator to clean up.
  await client.delete(HelloWorld, { namespace, name: "helloworld-sample" });
  await eventually("the sample to be cleaned up", () =>
    client.get(HelloWorld, { namespace, name: "helloworld-sample" }).then(
      () => undefined,
      () => true,
    ),
  );
  assert.equal((await running.stop()).code, 0, running.stderr);
});

test("the generated CRD is up to date, validates with its CEL rule, and shows its printer columns", async (t) => {
  const project = fileURLToPath(new URL("..", import.meta.url));
  const { outOfDate } = await runGenerate(project, operator, generators, { check: true });
  assert.deepEqual(
    outOfDate.map((c) => `${c.state} ${c.path}`),
    [],
    "generated files are stale: run npm run generate",
  );
  const namespace = await plane.namespace(t);
  await eventually("the CRD to be served", () => client.list(HelloWorld, { namespace }));
  await assert.rejects(
    client.create(HelloWorld, { metadata: { name: "nobody", namespace }, spec: { name: "nobody" } }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidError);
      assert.match(err.message, /spec\.name: Invalid value: "nobody": spec\.name must name somebody/);
      return true;
    },
  );
  await assert.rejects(
    client.create(HelloWorld, { metadata: { name: "empty", namespace }, spec: { name: "" } }),
    /spec\.name: Invalid value: "": spec\.name in body should be at least 1 chars long/,
  );
  assert.deepEqual(
    HelloWorld.validate({ spec: { name: "" } }).map((e) => e.field),
    ["spec.name"],
    "the same schema validates client-side",
  );
  await client.create(HelloWorld, { metadata: { name: "columns", namespace }, spec: { name: "world" } });
  const table = await client.transport.json<{
    columnDefinitions: Array<{ name: string }>;
    rows: Array<{ cells: unknown[] }>;
  }>({
    method: "GET",
    path: `/apis/apps.example.com/v1alpha1/namespaces/${namespace}/helloworlds`,
    accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
  });
  assert.deepEqual(
    table.columnDefinitions.map((c) => c.name),
    ["Name", "Greets", "Ready", "Age"],
  );
  assert.equal(table.rows[0]?.cells[1], "world");

  const { kubectl } = await ensureBinaries(["kubectl"]);
  const explain = await eventually("kubectl explain to know the kind", () =>
    promisify(execFile)(kubectl?.path ?? "kubectl", [
      "--kubeconfig",
      plane.kubeconfig,
      "explain",
      "helloworld.spec.name",
    ]),
  );
  assert.match(explain.stdout, /Who to greet; copied to the ConfigMap's data\.message\./);
});
