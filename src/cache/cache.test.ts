/** Cache reads: indexes with filters, cluster-scoped kinds, the order of write responses. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClient, fakeApiError } from "../client/fake/index.ts";
import * as corev1 from "../types/generated/core.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { Cache } from "./cache.ts";

const cm = (namespace: string, name: string, labels: Record<string, string>, data: Record<string, string> = {}) => ({
  metadata: { name, namespace, labels },
  data,
});

const names = (objects: KubeObject[]) => objects.map((o) => o.metadata?.name).sort();

test("a custom index combines with a namespace and a label selector", async (t) => {
  const fake = new FakeClient({
    objects: [
      [corev1.ConfigMap, cm("a", "web-1", { app: "web", tier: "front" })],
      [corev1.ConfigMap, cm("a", "web-2", { app: "web", tier: "back" })],
      [corev1.ConfigMap, cm("b", "web-3", { app: "web", tier: "front" })],
      [corev1.ConfigMap, cm("a", "db-1", { app: "db", tier: "back" })],
    ],
  });
  const cache = new Cache(fake);
  const informer = cache.informer(corev1.ConfigMap);
  informer.addIndex("app", (o) => (o.metadata?.labels?.app ? [o.metadata.labels.app] : []));
  cache.start();
  t.after(() => cache.stop());
  await cache.waitForSync(1000);

  const index = { name: "app", value: "web" };
  assert.deepEqual(names(cache.list(corev1.ConfigMap, { index })), ["web-1", "web-2", "web-3"]);
  assert.deepEqual(names(cache.list(corev1.ConfigMap, { index, namespace: "a" })), ["web-1", "web-2"]);
  assert.deepEqual(names(cache.list(corev1.ConfigMap, { index, labelSelector: "tier=front" })), ["web-1", "web-3"]);
  assert.deepEqual(names(cache.list(corev1.ConfigMap, { index, namespace: "a", labelSelector: "tier=front" })), [
    "web-1",
  ]);

  // With a write of this process in the overlay, the same lookups give the same answers, the write included.
  await fake.patch(corev1.ConfigMap, { namespace: "a", name: "db-1" }, "merge", {
    metadata: { labels: { app: "web" } },
  });
  assert.deepEqual(names(cache.list(corev1.ConfigMap, { index, namespace: "a" })), ["db-1", "web-1", "web-2"]);
  assert.deepEqual(names(cache.list(corev1.ConfigMap, { index, namespace: "a", labelSelector: "tier=back" })), [
    "db-1",
    "web-2",
  ]);
});

test("a cluster-scoped kind asked for in a namespace is cached cluster-wide and read by name", async (t) => {
  const fake = new FakeClient({ objects: [[corev1.Namespace, { metadata: { name: "team-a" } }]] });
  const cache = new Cache(fake);
  // What a manager restricted to one namespace asks for.
  const scoped = cache.informer(corev1.Namespace, { namespace: "team-a" });
  assert.equal(cache.informer(corev1.Namespace), scoped, "one informer: a namespace means nothing to this kind");
  cache.start();
  t.after(() => cache.stop());
  await cache.waitForSync(1000);

  assert.equal(cache.get(corev1.Namespace, "team-a")?.metadata?.name, "team-a");
  assert.deepEqual(names(cache.list(corev1.Namespace)), ["team-a"]);
  // Read-your-writes covers it too.
  fake.intercept = (a) => (a.verb === "watch" ? fakeApiError(503, "ServiceUnavailable", "unavailable") : undefined);
  await fake.close();
  await fake.patch(corev1.Namespace, "team-a", "merge", { metadata: { labels: { written: "yes" } } });
  assert.equal(cache.get(corev1.Namespace, "team-a")?.metadata?.labels?.written, "yes");
});

/** A client whose write responses are read when the test says, in any order. */
class HeldResponses extends FakeClient {
  readonly held: Array<() => void> = [];
  protected override wrote<T extends KubeObject>(
    type: ResourceType,
    object: T,
    verb: "create" | "update" | "patch",
  ): T {
    this.held.push(() => super.wrote(type, object, verb));
    return object;
  }
}

test("an older write response read after a newer one does not replace it in the overlay", async (t) => {
  const fake = new HeldResponses({ objects: [[corev1.ConfigMap, cm("a", "x", {}, { n: "0" })]] });
  const cache = new Cache(fake);
  cache.informer(corev1.ConfigMap);
  cache.start();
  t.after(() => cache.stop());
  await cache.waitForSync(1000);
  // Cut the informer off: only write responses can tell the cache anything from now on.
  fake.intercept = (a) => (a.verb === "watch" ? fakeApiError(503, "ServiceUnavailable", "unavailable") : undefined);
  await fake.close();

  const key = { namespace: "a", name: "x" };
  await fake.patch(corev1.ConfigMap, key, "merge", { data: { n: "1" } });
  await fake.patch(corev1.ConfigMap, key, "merge", { data: { n: "2" } });
  const [first, second] = fake.held.splice(0) as [() => void, () => void];
  second();
  assert.equal(cache.get(corev1.ConfigMap, key)?.data?.n, "2");
  first(); // the response of the first patch, read late
  assert.equal(cache.get(corev1.ConfigMap, key)?.data?.n, "2", "the newer write stays");
  assert.deepEqual(
    cache.list(corev1.ConfigMap, { namespace: "a" }).map((o) => o.data?.n),
    ["2"],
  );

  // A re-created object (another uid) starts its own history: its write is remembered whatever the numbers say.
  await fake.delete(corev1.ConfigMap, key);
  await fake.create(corev1.ConfigMap, cm("a", "x", {}, { n: "new" }));
  for (const notify of fake.held.splice(0)) notify();
  assert.equal(cache.get(corev1.ConfigMap, key)?.data?.n, "new");
});
