/** Handler-style controllers (on create / update / field / delete, timers, daemons) on the real plane. */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { Client } from "../../src/client/index.ts";
import {
  type ControllerDefinition,
  controller,
  generationChanged,
  type Predicate,
  silentLogger,
} from "../../src/controller/index.ts";
import { Manager } from "../../src/manager/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "handlers-test" });
test.after(() => client.close());

test("create, update, field, delete, timer and daemon handlers run when they should, with a bounded annotation", async (t) => {
  const namespace = await plane.namespace(t);
  const calls: string[] = [];
  let failUpdateOnce = true;
  let daemonRuns = 0;
  let daemonStopped = 0;
  const manager = await Manager.create({ name: "handlers", client, namespace, log: silentLogger });
  manager.add(
    controller("greeter")
      .for(corev1.ConfigMap, {
        predicates: [
          {
            create: (o) => o.metadata?.name === "h",
            update: (_o, n) => n.metadata?.name === "h",
            delete: (o) => o.metadata?.name === "h",
          },
        ],
      })
      .handlers((on) =>
        on
          .onCreate((obj) => {
            calls.push(`create ${obj.data?.who}`);
          })
          .onUpdate((obj, old) => {
            if (failUpdateOnce) {
              failUpdateOnce = false;
              throw new Error("transient");
            }
            calls.push(`update ${old?.data?.who}->${obj.data?.who}`);
          })
          .onField("data.mood", (_obj, change) => {
            calls.push(`mood ${String(change.old)}->${String(change.new)}`);
          })
          .onDelete((obj) => {
            calls.push(`delete ${obj.data?.who}`);
          })
          .timer(300, () => {
            calls.push("tick");
          })
          .daemon(async (_obj, ctx) => {
            daemonRuns++;
            await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
            daemonStopped++;
          }),
      ),
  );
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });

  await client.create(corev1.ConfigMap, { metadata: { name: "h", namespace }, data: { who: "a", mood: "calm" } });
  await eventually(
    "create and field handlers",
    () => calls.includes("create a") && calls.includes("mood undefined->calm"),
  );
  await eventually("the daemon", () => daemonRuns === 1);
  await eventually("two ticks", () => calls.filter((c) => c === "tick").length >= 2);
  const annotations = (await client.get(corev1.ConfigMap, { namespace, name: "h" })).metadata?.annotations ?? {};
  const marker = annotations["converge.dev/handled.greeter"] ?? "";
  assert.ok(marker.length > 0 && marker.length < 200, `a small marker: ${marker}`);

  await client.patch(corev1.ConfigMap, { namespace, name: "h" }, "merge", { data: { who: "b" } });
  await eventually("the update handler, after one retry", () => calls.includes("update a->b"));
  assert.equal(calls.filter((c) => c.startsWith("create")).length, 1, "create ran once");
  assert.ok(!calls.some((c) => c.startsWith("mood calm")), "the field handler did not run for another field");

  await client.patch(corev1.ConfigMap, { namespace, name: "h" }, "merge", { data: { mood: "happy" } });
  await eventually("the field handler", () => calls.includes("mood calm->happy"));

  // Metadata-only changes are not updates.
  const updatesBefore = calls.filter((c) => c.startsWith("update")).length;
  await client.patch(corev1.ConfigMap, { namespace, name: "h" }, "merge", { metadata: { labels: { x: "y" } } });
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(calls.filter((c) => c.startsWith("update")).length, updatesBefore);

  await client.delete(corev1.ConfigMap, { namespace, name: "h" });
  await eventually("the delete handler", () => calls.includes("delete b"));
  await eventually("the object to be gone", () =>
    client.get(corev1.ConfigMap, { namespace, name: "h" }).then(
      () => false,
      () => true,
    ),
  );
  await eventually("the daemon to stop", () => daemonStopped === 1);
});

/** Lets through the events of one object only: each test's controller reconciles the ConfigMaps it is about. */
const only = (name: string): Predicate<corev1.ConfigMap> => ({
  create: (o) => o.metadata?.name === name,
  update: (_o, n) => n.metadata?.name === name,
  delete: (o) => o.metadata?.name === name,
});

async function run(t: TestContext, namespace: string, definition: ControllerDefinition): Promise<void> {
  const manager = await Manager.create({ name: "handlers", client, namespace, log: silentLogger });
  manager.add(definition);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
}

test("two handlers of one change, the second failing at first: it alone is retried, and a create is never taken for an update", async (t) => {
  const namespace = await plane.namespace(t);
  const runs: string[] = [];
  let createFailures = 2;
  let updateFailures = 1;
  await run(
    t,
    namespace,
    controller("partial")
      .for(corev1.ConfigMap, { predicates: [only("p")] })
      .withOptions({ backoff: { baseMs: 20, maxMs: 200 } })
      .handlers((on) =>
        on
          .onCreate(() => void runs.push("create-1"), "create-1")
          .onCreate(() => {
            if (createFailures-- > 0) throw new Error("create-2 not yet");
            runs.push("create-2");
          }, "create-2")
          .onUpdate((obj) => void runs.push(`update-1 ${obj.data?.v}`), "update-1")
          .onUpdate((obj) => {
            if (updateFailures-- > 0) throw new Error("update-2 not yet");
            runs.push(`update-2 ${obj.data?.v}`);
          }, "update-2"),
      ),
  );
  await client.create(corev1.ConfigMap, { metadata: { name: "p", namespace }, data: { v: "1" } });
  await eventually("the second create handler, after two failures", () => runs.includes("create-2"));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(runs, ["create-1", "create-2"], "create-1 ran once, and no update handler ran for the creation");

  await client.patch(corev1.ConfigMap, { namespace, name: "p" }, "merge", { data: { v: "2" } });
  await eventually("the second update handler, after a failure", () => runs.includes("update-2 2"));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(runs.slice(2), ["update-1 2", "update-2 2"], "update-1 ran once for the change");

  // A change while an update is part-way is a new update: every update handler sees it.
  updateFailures = 1;
  await client.patch(corev1.ConfigMap, { namespace, name: "p" }, "merge", { data: { v: "3" } });
  await eventually("the update handlers of v3", () => runs.includes("update-2 3"));
  assert.deepEqual(runs.slice(4), ["update-1 3", "update-2 3"]);
});

test("with a generationChanged predicate, a new object gets its finalizer and is handled without another change", async (t) => {
  const namespace = await plane.namespace(t);
  const runs: string[] = [];
  await run(
    t,
    namespace,
    controller("generation")
      .for(corev1.ConfigMap, { predicates: [generationChanged, only("g")] })
      .handlers((on) => on.onCreate(() => void runs.push("create")).onDelete(() => void runs.push("delete"))),
  );
  await client.create(corev1.ConfigMap, { metadata: { name: "g", namespace }, data: { v: "1" } });
  await eventually("the create handler", () => runs.includes("create"));
  const obj = await client.get(corev1.ConfigMap, { namespace, name: "g" });
  assert.deepEqual(obj.metadata?.finalizers, ["converge.dev/generation"]);
  await client.delete(corev1.ConfigMap, { namespace, name: "g" });
  await eventually("the delete handler", () => runs.includes("delete"));
});
