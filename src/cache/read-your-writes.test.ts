/** The cache's read-your-writes for writes that complete a deletion. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ObjectKey } from "../client/api.ts";
import { FakeClient, fakeApiError } from "../client/fake/index.ts";
import * as corev1 from "../types/generated/core.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
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

/** A client whose delete responses are read only after the watch has reported the deletion. */
class LateDeleteResponses extends FakeClient {
  readonly late: Array<() => void> = [];
  protected override deleted(type: ResourceType, key: ObjectKey, object: KubeObject | undefined): void {
    this.late.push(() => super.deleted(type, key, object));
  }
  /** Tells the cache about a delete the way the apiserver answers one that removed the object at once. */
  answerWithObject(type: ResourceType, key: ObjectKey, object: KubeObject): void {
    super.deleted(type, key, object);
  }
}

test("a deletion the watch reported before the delete's response does not come back from the response", async (t) => {
  const fake = new LateDeleteResponses({ objects: [[corev1.ConfigMap, { metadata: { name: "a", namespace } }]] });
  const cache = new Cache(fake);
  cache.informer(corev1.ConfigMap);
  cache.start();
  t.after(() => cache.stop());
  await cache.waitForSync(1000);
  // Foreground: the response is the object with a deletionTimestamp and the foregroundDeletion finalizer, but with
  // nothing to wait for it is gone at once, and the watch may say so first.
  await fake.delete(corev1.ConfigMap, { namespace, name: "a" }, { propagationPolicy: "Foreground" });
  for (let i = 0; i < 100 && cache.get(corev1.ConfigMap, { namespace, name: "a" }); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(cache.get(corev1.ConfigMap, { namespace, name: "a" }), undefined, "the watch reported the deletion");
  for (const notify of fake.late.splice(0)) notify();
  assert.equal(cache.get(corev1.ConfigMap, { namespace, name: "a" }), undefined);
  assert.deepEqual(cache.list(corev1.ConfigMap, { namespace }), []);
});

test("a delete answered with the object as it was (removed at once) reads as deleted, before and after the watch", async (t) => {
  const fake = new LateDeleteResponses({
    objects: [
      [corev1.ConfigMap, { metadata: { name: "early", namespace } }],
      [corev1.ConfigMap, { metadata: { name: "late", namespace } }],
    ],
  });
  const cache = new Cache(fake);
  cache.informer(corev1.ConfigMap);
  cache.start();
  t.after(() => cache.stop());
  await cache.waitForSync(1000);
  const early = { namespace, name: "early" };
  const late = { namespace, name: "late" };
  const asItWas = (key: ObjectKey) => cache.get(corev1.ConfigMap, key) as KubeObject;

  // The answer is read before the watch reports the deletion: reads say deleted at once.
  const earlyObject = asItWas(early);
  await fake.delete(corev1.ConfigMap, early);
  fake.answerWithObject(corev1.ConfigMap, early, earlyObject);
  assert.equal(cache.get(corev1.ConfigMap, early), undefined);

  // The watch reports it first: the answer read afterwards must not bring it back.
  const lateObject = asItWas(late);
  await fake.delete(corev1.ConfigMap, late);
  // The fake's own notification is held back, so reads show what the watch said.
  for (let i = 0; i < 100 && cache.get(corev1.ConfigMap, late); i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(cache.get(corev1.ConfigMap, late), undefined, "the watch reported the deletion");
  fake.answerWithObject(corev1.ConfigMap, late, lateObject);
  assert.equal(cache.get(corev1.ConfigMap, late), undefined);
  assert.deepEqual(cache.list(corev1.ConfigMap, { namespace }), []);
});
