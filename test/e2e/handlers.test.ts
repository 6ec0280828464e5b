/** Handler-style controllers (on create / update / field / delete, timers, daemons) on the real plane. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client } from "../../src/client/index.ts";
import { handlers, silentLogger } from "../../src/controller/index.ts";
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
    handlers("greeter", corev1.ConfigMap)
      .withPredicates({
        create: (o) => o.metadata?.name === "h",
        update: (_o, n) => n.metadata?.name === "h",
        delete: (o) => o.metadata?.name === "h",
      })
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
      })
      .build(),
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
