import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AlreadyExistsError,
  Client,
  ConflictError,
  InvalidError,
  isNotFound,
  NotFoundError,
  retryOnConflict,
} from "../../src/client/index.ts";
import { testPlane } from "../../src/testing/index.ts";
import { appsv1, corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "converge-test" });
test.after(() => client.close());

test("create, get, update with optimistic concurrency, patch (merge, json), delete with preconditions", async (t) => {
  const namespace = await plane.namespace(t);
  const cm = await client.create(corev1.ConfigMap, { metadata: { name: "a", namespace }, data: { x: "1" } });
  assert.equal(cm.kind, "ConfigMap");
  assert.ok(cm.metadata?.uid && cm.metadata.resourceVersion);
  await assert.rejects(client.create(corev1.ConfigMap, { metadata: { name: "a", namespace } }), AlreadyExistsError);

  const got = await client.get(corev1.ConfigMap, `${namespace}/a`);
  assert.deepEqual(got.data, { x: "1" });
  const updated = await client.update(corev1.ConfigMap, { ...got, data: { x: "2" } });
  assert.notEqual(updated.metadata?.resourceVersion, got.metadata?.resourceVersion);
  await assert.rejects(client.update(corev1.ConfigMap, { ...got, data: { x: "stale" } }), ConflictError);

  const merged = await client.patch(corev1.ConfigMap, { namespace, name: "a" }, "merge", { data: { y: "3" } });
  assert.deepEqual(merged.data, { x: "2", y: "3" });
  const jsonPatched = await client.patch(corev1.ConfigMap, { namespace, name: "a" }, "json", [
    { op: "remove", path: "/data/x" },
  ]);
  assert.deepEqual(jsonPatched.data, { y: "3" });

  await assert.rejects(
    client.delete(corev1.ConfigMap, { namespace, name: "a" }, { preconditions: { uid: "not-the-uid" } }),
    ConflictError,
  );
  await client.delete(corev1.ConfigMap, { namespace, name: "a" });
  await assert.rejects(
    client.get(corev1.ConfigMap, { namespace, name: "a" }),
    (e) => isNotFound(e) && e instanceof NotFoundError,
  );
});

test("invalid objects are rejected with their field paths", async (t) => {
  const namespace = await plane.namespace(t);
  await assert.rejects(
    client.create(appsv1.Deployment, {
      metadata: { name: "bad", namespace },
      spec: { replicas: -1, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "c" } } } },
    }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidError);
      const fields = err.causes.map((c) => c.field);
      assert.ok(fields.includes("spec.replicas"), fields.join(","));
      assert.ok(fields.includes("spec.template.metadata.labels"), fields.join(","));
      assert.ok(err.fieldErrors().some((l) => l.startsWith("spec.replicas: ")));
      return true;
    },
  );
});

test("server-side apply: owns fields by manager, conflicts unless forced, status and scale subresources", async (t) => {
  const namespace = await plane.namespace(t);
  const deployment = {
    metadata: { name: "web", namespace, labels: { app: "web" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1" }] } },
    },
  };
  const applied = await client.apply(appsv1.Deployment, deployment);
  assert.equal(applied.spec?.replicas, 1);
  assert.ok(applied.metadata?.managedFields?.some((f) => f.manager === "converge-test" && f.operation === "Apply"));
  // Re-applying the same configuration changes nothing. (A ConfigMap: the controller-manager itself keeps
  // writing to Deployments, so their resourceVersion moves on its own.)
  const config = { metadata: { name: "applied", namespace }, data: { a: "1" } };
  const firstApply = await client.apply(corev1.ConfigMap, config);
  const again = await client.apply(corev1.ConfigMap, config);
  assert.equal(again.metadata?.resourceVersion, firstApply.metadata?.resourceVersion);
  // Another manager that sets an owned field conflicts, unless it forces.
  await assert.rejects(
    client.apply(
      appsv1.Deployment,
      { ...deployment, spec: { ...deployment.spec, replicas: 3 } },
      { fieldManager: "other" },
    ),
    ConflictError,
  );
  const forced = await client.apply(
    appsv1.Deployment,
    { metadata: deployment.metadata, spec: { replicas: 3 } },
    { fieldManager: "other", force: true },
  );
  assert.equal(forced.spec?.replicas, 3);

  const scale = await client.getScale(appsv1.Deployment, { namespace, name: "web" });
  assert.equal(scale.spec?.replicas, 3);
  const scaled = await client.updateScale(appsv1.Deployment, { namespace, name: "web" }, 2);
  assert.equal(scaled.spec?.replicas, 2);

  const withStatus = await client.applyStatus(
    appsv1.Deployment,
    { metadata: { name: "web", namespace }, status: { observedGeneration: 99 } },
    { fieldManager: "status-writer", force: true },
  );
  assert.equal(withStatus.status?.observedGeneration, 99);
});

test("list pages through large collections with a consistent resourceVersion; watch streams events", async (t) => {
  const namespace = await plane.namespace(t);
  await Promise.all(
    Array.from({ length: 23 }, (_, i) =>
      client.create(corev1.ConfigMap, { metadata: { name: `cm-${i}`, namespace, labels: { batch: "paging" } } }),
    ),
  );
  // The label leaves out kube-root-ca.crt, which the controller-manager publishes into every namespace at its pace.
  const labelSelector = "batch=paging";
  const pages: number[] = [];
  for await (const page of client.listPages(corev1.ConfigMap, { namespace, labelSelector, pageSize: 10 })) {
    pages.push(page.items.length);
  }
  assert.deepEqual(pages, [10, 10, 3]);
  const all = await client.listAll(corev1.ConfigMap, { namespace, labelSelector, pageSize: 7 });
  assert.equal(all.items.length, 23);
  assert.ok(all.metadata.resourceVersion);

  const abort = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const ev of client.watch(corev1.ConfigMap, {
      namespace,
      labelSelector,
      resourceVersion: all.metadata.resourceVersion,
      signal: abort.signal,
    })) {
      seen.push(`${ev.type} ${ev.object.metadata?.name}`);
      if (seen.length === 2) abort.abort();
    }
  })().catch((err: Error) => {
    if (err.name !== "AbortError") throw err;
  });
  await client.patch(corev1.ConfigMap, { namespace, name: "cm-1" }, "merge", { data: { a: "b" } });
  await client.delete(corev1.ConfigMap, { namespace, name: "cm-2" });
  await done;
  assert.deepEqual(seen, ["MODIFIED cm-1", "DELETED cm-2"]);
});

test("createOrUpdate and createOrPatch write nothing when nothing changed; retryOnConflict retries", async (t) => {
  const namespace = await plane.namespace(t);
  const key = { namespace, name: "cfg" };
  const first = await client.createOrUpdate(corev1.ConfigMap, key, (cm) => {
    cm.data = { greeting: "hello" };
  });
  assert.equal(first.result, "created");
  const same = await client.createOrUpdate(corev1.ConfigMap, key, (cm) => {
    cm.data = { greeting: "hello" };
  });
  assert.equal(same.result, "unchanged");
  assert.equal(same.object.metadata?.resourceVersion, first.object.metadata?.resourceVersion);
  const changed = await client.createOrPatch(corev1.ConfigMap, key, (cm) => {
    cm.data = { ...cm.data, extra: "1" };
  });
  assert.equal(changed.result, "updated");
  assert.deepEqual(changed.object.data, { greeting: "hello", extra: "1" });
  const unchanged = await client.createOrPatch(corev1.ConfigMap, key, (cm) => {
    cm.data = { greeting: "hello", extra: "1" };
  });
  assert.equal(unchanged.result, "unchanged");
  await assert.rejects(
    client.createOrUpdate(corev1.ConfigMap, key, (cm) => {
      cm.metadata = { ...cm.metadata, name: "renamed" };
    }),
    /must not change the name or namespace/,
  );

  let attempts = 0;
  const result = await retryOnConflict(async () => {
    attempts++;
    const cm = await client.get(corev1.ConfigMap, key);
    if (attempts === 1) await client.patch(corev1.ConfigMap, key, "merge", { data: { racer: "won" } });
    return client.update(corev1.ConfigMap, { ...cm, data: { ...cm.data, mine: "yes" } });
  });
  assert.equal(attempts, 2);
  assert.equal(result.data?.racer, "won");
  assert.equal(result.data?.mine, "yes");
});
