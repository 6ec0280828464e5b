/**
 * The operator on a real Kubernetes control plane: its CRDs installed, its controllers running in a Manager.
 * `testPlane()` starts a local plane for the test run (the first time, building the Kubernetes binaries takes
 * minutes), or uses the cluster of the kubeconfig in CONVERGE_TEST_KUBECONFIG. Each test gets its own namespace.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, corev1, installCrds, isInvalid, isNotFound, Manager } from "converge-sdk";
import { eventually, silentLogger, testPlane } from "converge-sdk/testing";
import { NoteCard } from "../src/api.ts";
import operator from "../src/operator.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: `${operator.name}-test` });
test.after(() => client.close());
await installCrds(client, operator);

test("the operator gives a NoteCard its ConfigMap, reports Ready, repairs drift and cleans up", async (t) => {
  const namespace = await plane.namespace(t);
  const manager = await Manager.create({ name: operator.name, client, namespace, log: silentLogger });
  for (const c of operator.controllers) manager.add(c);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });

  const key = { namespace, name: "greeting" };
  await client.create(NoteCard, { metadata: { ...key }, spec: { message: "hello" } });
  const configMap = await eventually("the ConfigMap", async () => {
    const cm = await client.get(corev1.ConfigMap, key);
    return cm.data?.message === "hello" ? cm : undefined;
  });
  assert.equal(configMap.metadata?.ownerReferences?.[0]?.kind, "NoteCard");
  await eventually("the NoteCard to be Ready", async () => {
    const obj = await client.get(NoteCard, key);
    return obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  });

  await client.patch(corev1.ConfigMap, key, "merge", { data: { message: "edited by hand" } });
  await eventually("the ConfigMap to be put right", async () => {
    return (await client.get(corev1.ConfigMap, key)).data?.message === "hello";
  });

  await client.delete(NoteCard, key);
  await eventually("the NoteCard to be gone", () => client.get(NoteCard, key).then(() => false, isNotFound));
});

test("the API server checks a NoteCard against the schema of its definition", async (t) => {
  const namespace = await plane.namespace(t);
  const empty = { metadata: { name: "empty", namespace }, spec: { message: "" } };
  await assert.rejects(client.create(NoteCard, empty), (err: Error) => {
    assert.ok(isInvalid(err));
    assert.match(err.message, /spec\.message/);
    return true;
  });
});
