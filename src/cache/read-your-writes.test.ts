/** The cache's read-your-writes for a write that completes a deletion. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClient, fakeApiError } from "../client/fake.ts";
import * as corev1 from "../types/generated/core.v1.ts";
import { Cache } from "./cache.ts";

const namespace = "default";

test("removing the last finalizer of an object being deleted reads as deleted at once, before the watch says so", async (t) => {
  const fake = new FakeClient({
    objects: [[corev1.ConfigMap, { metadata: { name: "a", namespace, finalizers: ["example.com/cleanup"] } }]],
  });
  const cache = new Cache(fake);
  cache.informer(corev1.ConfigMap);
  cache.start();
  t.after(() => cache.stop());
  await cache.waitForSync(1000);
  await fake.delete(corev1.ConfigMap, { namespace, name: "a" });
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(cache.get(corev1.ConfigMap, { namespace, name: "a" })?.metadata?.deletionTimestamp);

  // Cut the informer off: from now on only write notifications can tell the cache anything.
  fake.intercept = (a) => (a.verb === "watch" ? fakeApiError(503, "ServiceUnavailable", "unavailable") : undefined);
  await fake.close();
  // The apiserver answers this patch with the object as it was (deletionTimestamp, and its old resourceVersion)
  // although it is gone: a cache that kept it would run the finalizer's clean-up a second time.
  await fake.patch(corev1.ConfigMap, { namespace, name: "a" }, "merge", { metadata: { finalizers: null } });
  assert.equal(fake.peek(corev1.ConfigMap, { namespace, name: "a" }), undefined);
  assert.equal(cache.get(corev1.ConfigMap, { namespace, name: "a" }), undefined);
  assert.deepEqual(cache.list(corev1.ConfigMap, { namespace }), []);
});
