/**
 * The runtime on the in-memory FakeClient, without an apiserver: informers, the cache's read-your-writes, and a
 * whole manager whose controller repairs an owned object. (In test/ rather than src/client/ because the client
 * layer may not import the layers above it.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Cache, Informer } from "../../src/cache/index.ts";
import { controller, filter, setControllerReference, silentLogger } from "../../src/controller/index.ts";
import { Manager } from "../../src/manager/index.ts";
import { eventually, FakeClient, fakeApiError } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const namespace = "default";

test("a manager on the fake: the controller creates an owned child, recreates it when deleted, and rests", async (t) => {
  const fake = new FakeClient({ fieldManager: "t" });
  const manager = await Manager.create({ name: "t", client: fake, log: silentLogger });
  manager.add(
    controller("owner")
      .for(corev1.ConfigMap, {
        predicates: [filter((o) => o.metadata?.labels?.role === "parent")],
      })
      .owns(corev1.ConfigMap)
      .reconcileKey(async (req, ctx) => {
        const p = ctx.object;
        if (p?.metadata?.labels?.role !== "parent") return undefined;
        await ctx.client.createOrUpdate(
          corev1.ConfigMap,
          { namespace: req.namespace, name: `${req.name}-child` },
          (child) => {
            child.data = { value: p.data?.value ?? "" };
            setControllerReference(p, child, corev1.ConfigMap);
          },
        );
        return undefined;
      }),
  );
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
  await manager.whenLeading();

  const childKey = { namespace, name: "p-child" };
  const parent = await fake.create(corev1.ConfigMap, {
    metadata: { name: "p", namespace, labels: { role: "parent" } },
    data: { value: "v1" },
  });
  const child = await eventually("the child", () => fake.peek(corev1.ConfigMap, childKey));
  assert.equal(child.data?.value, "v1");
  assert.equal(child.metadata?.ownerReferences?.[0]?.uid, parent.metadata?.uid);

  await fake.delete(corev1.ConfigMap, childKey);
  const recreated = await eventually("the child to be recreated", () => {
    const c = fake.peek(corev1.ConfigMap, childKey);
    return c && c.metadata?.uid !== child.metadata?.uid ? c : undefined;
  });
  assert.equal(recreated.data?.value, "v1");

  await fake.patch(corev1.ConfigMap, { namespace, name: "p" }, "merge", { data: { value: "v2" } });
  await eventually("the child to follow", () => fake.peek(corev1.ConfigMap, childKey)?.data?.value === "v2");

  // At rest the controller writes nothing.
  await new Promise((r) => setTimeout(r, 50));
  fake.resetActions();
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(fake.writes(), []);

  // The fake's garbage collector removes the child with its owner, and nothing brings it back.
  await fake.delete(corev1.ConfigMap, { namespace, name: "p" });
  assert.equal(fake.peek(corev1.ConfigMap, childKey), undefined);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(fake.peekList(corev1.ConfigMap), []);
});

test("the cache reads its own writes through the fake's write notifications, not only through the watch", async (t) => {
  const fake = new FakeClient({ objects: [[corev1.ConfigMap, { metadata: { name: "a", namespace } }]] });
  const cache = new Cache(fake);
  cache.informer(corev1.ConfigMap);
  cache.start();
  t.after(() => cache.stop());
  await cache.waitForSync(1000);
  assert.ok(cache.get(corev1.ConfigMap, { namespace, name: "a" }));
  // Cut the informer off: from now on only write notifications can tell the cache anything.
  fake.intercept = (a) => (a.verb === "watch" ? fakeApiError(503, "ServiceUnavailable", "unavailable") : undefined);
  await fake.close();
  await fake.create(corev1.ConfigMap, { metadata: { name: "b", namespace }, data: { x: "1" } });
  assert.deepEqual(cache.get(corev1.ConfigMap, { namespace, name: "b" })?.data, { x: "1" });
  await fake.delete(corev1.ConfigMap, { namespace, name: "a" });
  assert.equal(cache.get(corev1.ConfigMap, { namespace, name: "a" }), undefined);
  fake.seed(corev1.ConfigMap, { metadata: { name: "by-someone-else", namespace } });
  assert.equal(cache.get(corev1.ConfigMap, { namespace, name: "by-someone-else" }), undefined, "seeds are not ours");
});

test("an informer on the fake resumes its watch and relists after 410 Expired", async (t) => {
  const fake = new FakeClient({ objects: [[corev1.ConfigMap, { metadata: { name: "a", namespace } }]] });
  const informer = new Informer(fake, corev1.ConfigMap, { backoff: { initialMs: 1, maxMs: 5 } });
  informer.start();
  t.after(() => informer.stop());
  await informer.waitForSync(1000);
  await fake.create(corev1.ConfigMap, { metadata: { name: "b", namespace } });
  await eventually("b in the store", () => informer.store.get(`${namespace}/b`));
  assert.equal(informer.stats.lists, 1);

  // The watch breaks and cannot be reopened for a while; meanwhile an object changes and history is compacted.
  fake.intercept = (a) => (a.verb === "watch" ? fakeApiError(503, "ServiceUnavailable", "unavailable") : undefined);
  await fake.close();
  await eventually("a failed watch", () => informer.stats.errors >= 1);
  await fake.create(corev1.ConfigMap, { metadata: { name: "c", namespace } });
  fake.compact();
  fake.intercept = undefined;

  await eventually("c in the store", () => informer.store.get(`${namespace}/c`));
  assert.equal(informer.stats.lists, 2, "the informer relisted after 410");
});
