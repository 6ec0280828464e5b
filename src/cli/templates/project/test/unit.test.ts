/**
 * The NoteCard controller in a whole Manager on the in-memory FakeClient: no cluster, milliseconds. The fake does
 * not validate schemas or model server-side apply's field ownership; the end-to-end test covers those.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { corev1, Manager } from "converge-sdk";
import { eventually, FakeClient, silentLogger } from "converge-sdk/testing";
import { NoteCard } from "../src/api.ts";
import { noteCardController } from "../src/controller.ts";

test("a NoteCard gets a ConfigMap with its message, kept in step and repaired, and deleted with it", async (t) => {
  const fake = new FakeClient();
  const manager = await Manager.create({ name: "notecard-test", client: fake, log: silentLogger });
  manager.add(noteCardController);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
  await manager.whenLeading();

  const key = { namespace: "default", name: "greeting" };
  await fake.create(NoteCard, { metadata: { ...key }, spec: { message: "hello" } });
  const configMap = await eventually("the ConfigMap", () => fake.peek(corev1.ConfigMap, key));
  assert.equal(configMap.data?.message, "hello");
  assert.equal(configMap.metadata?.ownerReferences?.[0]?.kind, "NoteCard");
  await eventually("the NoteCard to be Ready", () =>
    fake.peek(NoteCard, key)?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );

  await fake.patch(NoteCard, key, "merge", { spec: { message: "changed" } });
  await eventually("the ConfigMap to follow", () => fake.peek(corev1.ConfigMap, key)?.data?.message === "changed");

  await fake.delete(corev1.ConfigMap, key);
  await eventually("the ConfigMap to be put back", () => fake.peek(corev1.ConfigMap, key));

  await fake.delete(NoteCard, key);
  await eventually("the NoteCard and its ConfigMap to be gone", () => {
    return fake.peek(NoteCard, key) === undefined && fake.peek(corev1.ConfigMap, key) === undefined;
  });
});
