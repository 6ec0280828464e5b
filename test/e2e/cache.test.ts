/** The informer cache on the real plane: metadata-only mode, indexes, transforms, selectors, events. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Cache } from "../../src/cache/index.ts";
import { Client } from "../../src/client/index.ts";
import { EventRecorder, setControllerReference } from "../../src/controller/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import { corev1, eventsv1 } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "cache-test" });
test.after(() => client.close());

test("informers strip managedFields, index by owner, filter by label, and serve metadata-only objects", async (t) => {
  const namespace = await plane.namespace(t);
  const cache = new Cache(client);
  t.after(() => cache.stop());
  const full = cache.informer(corev1.ConfigMap, { namespace });
  const labelled = cache.informer(corev1.ConfigMap, { namespace, labelSelector: "tier=web" });
  const meta = cache.informer(corev1.Secret, { namespace, metadataOnly: true });
  cache.start();
  await cache.waitForSync(10_000);

  const parent = await client.create(corev1.ConfigMap, {
    metadata: { name: "parent", namespace },
    data: { big: "x".repeat(1000) },
  });
  const child = setControllerReference(parent, {
    metadata: { name: "child", namespace, labels: { tier: "web" } },
  } as corev1.ConfigMap);
  await client.create(corev1.ConfigMap, child);
  await client.create(corev1.Secret, {
    metadata: { name: "s", namespace, labels: { a: "b" } },
    stringData: { password: "hunter2" },
  });

  await eventually(
    "the informers to see the objects",
    () => full.store.get(`${namespace}/child`) && meta.store.get(`${namespace}/s`),
  );
  const cachedParent = cache.get(corev1.ConfigMap, { namespace, name: "parent" });
  assert.equal(cachedParent?.data?.big?.length, 1000);
  assert.equal(cachedParent?.metadata?.managedFields, undefined, "managedFields are stripped by default");
  assert.equal(cachedParent?.kind, "ConfigMap", "list items get their apiVersion and kind back");
  const children = cache.list(corev1.ConfigMap, {
    namespace,
    index: { name: "owner", value: parent.metadata?.uid ?? "" },
  });
  assert.deepEqual(
    children.map((c) => c.metadata?.name),
    ["child"],
  );
  assert.deepEqual(
    cache.list(corev1.ConfigMap, { namespace, labelSelector: "tier=web" }).map((c) => c.metadata?.name),
    ["child"],
  );
  assert.deepEqual([...labelled.store.keys()], [`${namespace}/child`], "a label-scoped informer caches only matches");
  const secret = meta.store.get(`${namespace}/s`) as unknown as {
    kind: string;
    metadata: { labels: object };
    data?: unknown;
  };
  assert.equal(secret.kind, "PartialObjectMetadata");
  assert.deepEqual(secret.metadata.labels, { a: "b" });
  assert.equal(secret.data, undefined, "no secret data in a metadata-only cache");
  assert.throws(() => cache.get(corev1.Pod, { namespace, name: "x" }), /no informer caches Pod/);
});

test("a cache that cannot sync says which informer and why", async () => {
  const bogus = {
    ...corev1.ConfigMap,
    group: "nope.example.com",
    apiVersion: "nope.example.com/v1",
    kind: "Nope",
    plural: "nopes",
  };
  const cache = new Cache(client, { informerDefaults: { backoff: { initialMs: 50, maxMs: 100 } } });
  cache.informer(bogus);
  cache.start();
  await assert.rejects(cache.waitForSync(500), /informer for Nope \(nope.example.com\/v1\) did not sync within 500 ms/);
  await cache.stop();
});

test("repeated events are aggregated into one Event with a series count", async (t) => {
  const namespace = await plane.namespace(t);
  const cm = await client.create(corev1.ConfigMap, { metadata: { name: "subject", namespace } });
  const recorder = new EventRecorder(client, { controller: "converge.dev/test", instance: "test-1" });
  recorder.event(cm, "Normal", "Created", "made the thing", "Create", corev1.ConfigMap);
  await recorder.flush();
  for (let i = 0; i < 3; i++) {
    recorder.event(cm, "Warning", "Failed", "could not do it", "Reconcile", corev1.ConfigMap);
    await recorder.flush();
  }
  const events = (await client.list(eventsv1.Event, { namespace })).items.filter(
    (e) => e.regarding?.name === "subject",
  );
  assert.equal(events.length, 2);
  const failed = events.find((e) => e.reason === "Failed");
  assert.equal(failed?.type, "Warning");
  assert.equal(failed?.series?.count, 3);
  assert.equal(failed?.reportingController, "converge.dev/test");
  assert.equal(failed?.regarding?.uid, cm.metadata?.uid);
  assert.equal(events.find((e) => e.reason === "Created")?.series, undefined);
});

test("an event series starts only once its Event was created, and starts again when that Event is gone", async (t) => {
  const namespace = await plane.namespace(t);
  const { proxy, client: proxied } = await plane.throughProxy(t, { fieldManager: "cache-test" });
  const cm = await client.create(corev1.ConfigMap, { metadata: { name: "subject", namespace } });
  const recorder = new EventRecorder(proxied, { controller: "converge.dev/test", instance: "test-1" });
  const failing = async () => {
    recorder.event(cm, "Warning", "Failed", "could not do it", "Reconcile", corev1.ConfigMap);
    await recorder.flush();
  };
  const events = async () =>
    (await client.list(eventsv1.Event, { namespace })).items.filter((e) => e.regarding?.name === "subject");

  // The first create is refused: that occurrence is lost, and the next one creates the Event.
  const refused = proxy.inject({ verb: "create", resource: "events", action: { status: 403 }, times: 1 });
  await failing();
  assert.equal(refused.hits, 1);
  assert.deepEqual(await events(), []);
  await failing();
  await failing();
  let found = await events();
  assert.equal(found.length, 1, "the occurrence after the refused create creates the Event");
  assert.equal(found[0]?.series?.count, 2);

  // The Event is removed (its TTL ran out, or someone deleted it): the next occurrence creates a new one.
  await client.delete(eventsv1.Event, { namespace, name: found[0]?.metadata?.name ?? "" });
  await failing();
  found = await events();
  assert.equal(found.length, 1, "a series whose Event is gone starts again");
  assert.equal(found[0]?.reason, "Failed");
});
