/** The fake as a whole, through its entry point: every verb with the apiserver's semantics, store and watches. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appsv1, corev1 } from "../../types/index.ts";
import { type KubeObject, resourceType } from "../../types/resource.ts";
import { retryOnConflict, type WatchEvent } from "../api.ts";
import {
  AlreadyExistsError,
  BadRequestError,
  ConflictError,
  GoneError,
  InvalidError,
  isNotFound,
  NotFoundError,
  type StatusBody,
} from "../errors.ts";
import { type FakeAction, FakeClient, fakeApiError } from "./index.ts";

interface Widget extends KubeObject {
  spec?: { size?: number; color?: string };
  status?: { ready?: boolean; observedGeneration?: number };
}
/** A custom kind with a status subresource. */
const Widget = resourceType<Widget>({
  group: "example.com",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
  subresources: { status: true },
});
/** A custom kind without one: its status is ordinary data. */
const Gadget = resourceType<Widget>({
  group: "example.com",
  version: "v1",
  kind: "Gadget",
  plural: "gadgets",
  namespaced: true,
});
/** A cluster-scoped custom kind. */
const Realm = resourceType<Widget>({
  group: "example.com",
  version: "v1",
  kind: "Realm",
  plural: "realms",
  namespaced: false,
});

const ns = "default";
const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>): corev1.ConfigMap => ({
  metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
  data,
});

async function rejects(p: Promise<unknown>, cls: abstract new (...args: never[]) => Error): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error)?.constructor?.name}: ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${cls.name}, but the call succeeded`);
}

/** Reads `n` events from a watch (with a deadline, so a missing event fails the test instead of hanging it). */
async function take<T>(events: AsyncGenerator<WatchEvent<T>>, n: number): Promise<WatchEvent<T>[]> {
  const out: WatchEvent<T>[] = [];
  const deadline = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${out.length} of ${n} events`)), 1000);
    t.unref();
  });
  while (out.length < n) {
    const r = await Promise.race([events.next(), deadline]);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

const summary = (evs: WatchEvent<KubeObject>[]) => evs.map((e) => `${e.type} ${e.object.metadata?.name ?? ""}`);

test("create fills in metadata; get returns deep copies; AlreadyExists and NotFound look like the apiserver's", async () => {
  const fake = new FakeClient();
  const input = cm("a", { x: "1" });
  const created = await fake.create(corev1.ConfigMap, input);
  assert.equal(created.apiVersion, "v1");
  assert.equal(created.kind, "ConfigMap");
  assert.match(created.metadata?.uid ?? "", /^[0-9a-f-]{36}$/);
  assert.match(created.metadata?.creationTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(created.metadata?.resourceVersion ?? "", /^\d+$/);
  assert.equal(created.metadata?.generation, 1);
  assert.equal(input.metadata?.uid, undefined, "the argument is not changed");

  created.data = { x: "mutated" };
  input.data = { x: "mutated" };
  const got = await fake.get(corev1.ConfigMap, `${ns}/a`);
  assert.deepEqual(got.data, { x: "1" });
  (got.data as Record<string, string>).x = "mutated";
  assert.deepEqual((await fake.get(corev1.ConfigMap, { namespace: ns, name: "a" })).data, { x: "1" });

  const exists = await rejects(fake.create(corev1.ConfigMap, cm("a")), AlreadyExistsError);
  assert.equal(exists.message, 'configmaps "a" already exists');
  const missing = (await rejects(
    fake.get(appsv1.Deployment, { namespace: ns, name: "nope" }),
    NotFoundError,
  )) as NotFoundError;
  assert.equal(missing.code, 404);
  assert.equal(missing.reason, "NotFound");
  assert.equal(missing.message, 'deployments.apps "nope" not found');
  assert.deepEqual(missing.status?.details, { name: "nope", group: "apps", kind: "deployments" });
  assert.equal(missing.request, `GET /apis/apps/v1/namespaces/${ns}/deployments/nope`);
});

test("names: generateName, required name, namespace rules of namespaced and cluster-scoped kinds", async () => {
  const fake = new FakeClient();
  const generated = await fake.create(corev1.ConfigMap, { metadata: { generateName: "job-", namespace: ns } });
  assert.match(generated.metadata?.name ?? "", /^job-[a-z0-9]{5}$/);

  const invalid = (await rejects(
    fake.create(corev1.ConfigMap, { metadata: { namespace: ns } }),
    InvalidError,
  )) as InvalidError;
  assert.equal(invalid.code, 422);
  assert.deepEqual(invalid.fieldErrors(), ["metadata.name: Required value: name or generateName is required"]);
  await rejects(fake.create(corev1.ConfigMap, { metadata: { name: "a/b", namespace: ns } }), InvalidError);

  // Like the real client, a namespaced kind without a namespace fails before any request.
  await assert.rejects(fake.create(corev1.ConfigMap, { metadata: { name: "x" } }), /namespaced: metadata.namespace/);
  await assert.rejects(fake.get(corev1.ConfigMap, "x"), /namespaced: a namespace is required/);
  // Like the apiserver, a namespace sent for a cluster-scoped kind is dropped.
  const realm = await fake.create(Realm, { metadata: { name: "r", namespace: "ignored" } });
  assert.equal(realm.metadata?.namespace, undefined);
  assert.equal((await fake.get(Realm, "r")).metadata?.uid, realm.metadata?.uid);
  await rejects(
    fake.create(corev1.ConfigMap, { metadata: { name: "rv", namespace: ns, resourceVersion: "5" } }),
    BadRequestError,
  );
});

test("resourceVersion is one global counter; stale updates conflict; updates without one are unconditional", async () => {
  const fake = new FakeClient();
  const a = await fake.create(corev1.ConfigMap, cm("a"));
  const w = await fake.create(Widget, { metadata: { name: "w", namespace: ns } });
  const b = await fake.create(corev1.ConfigMap, cm("b"));
  const rvs = [a, w, b].map((o) => Number(o.metadata?.resourceVersion));
  assert.deepEqual(rvs, [rvs[0], (rvs[0] as number) + 1, (rvs[0] as number) + 2]);

  const updated = await fake.update(corev1.ConfigMap, { ...a, data: { v: "2" } });
  assert.ok(Number(updated.metadata?.resourceVersion) > (rvs[2] as number));
  const stale = (await rejects(
    fake.update(corev1.ConfigMap, { ...a, data: { v: "stale" } }),
    ConflictError,
  )) as ConflictError;
  assert.equal(
    stale.message,
    'Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again',
  );
  assert.equal(stale.reason, "Conflict");
  const { resourceVersion: _, ...meta } = a.metadata ?? {};
  const forced = await fake.update(corev1.ConfigMap, { metadata: meta, data: { v: "forced" } });
  assert.deepEqual(forced.data, { v: "forced" });
  assert.equal(forced.metadata?.uid, a.metadata?.uid, "system metadata is kept");
  assert.equal(forced.metadata?.creationTimestamp, a.metadata?.creationTimestamp);

  const same = await fake.update(corev1.ConfigMap, forced);
  assert.equal(same.metadata?.resourceVersion, forced.metadata?.resourceVersion, "a no-op write stores nothing");
  await rejects(fake.update(corev1.ConfigMap, cm("missing")), NotFoundError);
});

test("generation: +1 on spec changes only; status changes count only without a status subresource", async () => {
  const fake = new FakeClient();
  let w = await fake.create(Widget, { metadata: { name: "w", namespace: ns }, spec: { size: 1 } });
  assert.equal(w.metadata?.generation, 1);
  w = await fake.update(Widget, { ...w, metadata: { ...w.metadata, labels: { a: "b" } } });
  assert.equal(w.metadata?.generation, 1, "metadata changes do not bump it");
  w = await fake.updateStatus(Widget, { ...w, status: { ready: true } });
  assert.equal(w.metadata?.generation, 1, "status changes do not bump it");
  w = await fake.patch(Widget, { namespace: ns, name: "w" }, "merge", { spec: { size: 2 } });
  assert.equal(w.metadata?.generation, 2);
  w = await fake.update(Widget, { ...w, spec: { size: 3 } });
  assert.equal(w.metadata?.generation, 3);

  let g = await fake.create(Gadget, { metadata: { name: "g", namespace: ns }, spec: { size: 1 } });
  g = await fake.update(Gadget, { ...g, status: { ready: true } });
  assert.equal(g.metadata?.generation, 2, "without a status subresource, status is data");
  assert.deepEqual(g.status, { ready: true });
});

test("status subresource: create and update ignore status; updateStatus, status patches and applyStatus touch only it", async () => {
  const fake = new FakeClient({ fieldManager: "test" });
  const w = await fake.create(Widget, {
    metadata: { name: "w", namespace: ns },
    spec: { size: 1 },
    status: { ready: true },
  });
  assert.equal(w.status, undefined, "create drops the status");
  const withStatus = await fake.updateStatus(Widget, { ...w, spec: { size: 99 }, status: { ready: true } });
  assert.deepEqual(withStatus.status, { ready: true });
  assert.deepEqual(withStatus.spec, { size: 1 }, "updateStatus ignores the spec");
  const updated = await fake.update(Widget, { ...withStatus, spec: { size: 2 }, status: { ready: false } });
  assert.deepEqual(updated.status, { ready: true }, "update keeps the stored status");
  assert.deepEqual(updated.spec, { size: 2 });
  await rejects(fake.updateStatus(Widget, withStatus), ConflictError);

  const patched = await fake.patch(
    Widget,
    { namespace: ns, name: "w" },
    "merge",
    { spec: { size: 5 }, status: { observedGeneration: 2 } },
    { subresource: "status" },
  );
  assert.deepEqual(patched.status, { ready: true, observedGeneration: 2 });
  assert.deepEqual(patched.spec, { size: 2 });
  const applied = await fake.applyStatus(Widget, { metadata: { name: "w", namespace: ns }, status: { ready: false } });
  assert.deepEqual(applied.status, { ready: false, observedGeneration: 2 });
  assert.deepEqual(applied.spec, { size: 2 });

  const notServed = await rejects(fake.updateStatus(corev1.ConfigMap, cm("x")), NotFoundError);
  assert.equal(notServed.message, "the server could not find the requested resource");
  // Without a status subresource, update writes the status like any field.
  const g = await fake.create(Gadget, { metadata: { name: "g", namespace: ns }, status: { ready: true } });
  assert.deepEqual(g.status, { ready: true });
});

test("merge, JSON and strategic patches; a resourceVersion in a patch is a precondition; failed JSON tests are 422", async () => {
  const fake = new FakeClient();
  const a = await fake.create(corev1.ConfigMap, cm("a", { x: "1", y: "2" }));
  const key = { namespace: ns, name: "a" };
  const merged = await fake.patch(corev1.ConfigMap, key, "merge", { data: { y: null, z: "3" } });
  assert.deepEqual(merged.data, { x: "1", z: "3" });
  const strategic = await fake.patch(corev1.ConfigMap, key, "strategic", { metadata: { labels: { s: "1" } } });
  assert.deepEqual(strategic.metadata?.labels, { s: "1" });

  const json = await fake.patch(corev1.ConfigMap, key, "json", [
    { op: "test", path: "/data/x", value: "1" },
    { op: "add", path: "/data/a~1b", value: "slash" },
    { op: "replace", path: "/data/x", value: "10" },
    { op: "remove", path: "/data/z" },
    { op: "copy", from: "/data/x", path: "/data/copy" },
    { op: "move", from: "/data/copy", path: "/data/moved" },
    { op: "add", path: "/metadata/finalizers", value: ["f"] },
    { op: "add", path: "/metadata/finalizers/-", value: "g" },
  ]);
  assert.deepEqual(json.data, { x: "10", "a/b": "slash", moved: "10" });
  assert.deepEqual(json.metadata?.finalizers, ["f", "g"]);

  const failed = (await rejects(
    fake.patch(corev1.ConfigMap, key, "json", [
      { op: "test", path: "/data/x", value: "nope" },
      { op: "replace", path: "/data/x", value: "never" },
    ]),
    InvalidError,
  )) as InvalidError;
  assert.equal(failed.code, 422);
  assert.match(failed.causes[0]?.message ?? "", /testing value \/data\/x failed/);
  await rejects(fake.patch(corev1.ConfigMap, key, "json", [{ op: "remove", path: "/data/none" }]), InvalidError);
  assert.equal((await fake.get(corev1.ConfigMap, key)).data?.x, "10", "a failed patch changes nothing");

  await rejects(
    fake.patch(corev1.ConfigMap, key, "merge", {
      metadata: { resourceVersion: a.metadata?.resourceVersion },
      data: {},
    }),
    ConflictError,
  );
  const current = await fake.get(corev1.ConfigMap, key);
  const guarded = await fake.patch(corev1.ConfigMap, key, "merge", {
    metadata: { resourceVersion: current.metadata?.resourceVersion },
    data: { guarded: "yes" },
  });
  assert.equal(guarded.data?.guarded, "yes");
  await rejects(fake.patch(corev1.ConfigMap, { namespace: ns, name: "missing" }, "merge", {}), NotFoundError);
  await rejects(fake.patch(corev1.ConfigMap, key, "merge", { metadata: { name: "renamed" } }), BadRequestError);
});

test("server-side apply (approximated): needs a field manager, creates, merges, and is idempotent", async () => {
  const anonymous = new FakeClient();
  await assert.rejects(
    anonymous.apply(corev1.ConfigMap, cm("a")),
    /server-side apply needs a fieldManager \(in the options or the client's\)/,
  );
  const fake = new FakeClient({ fieldManager: "me" });
  const created = await fake.apply(corev1.ConfigMap, cm("a", { x: "1" }));
  assert.deepEqual(created.data, { x: "1" });
  const merged = await fake.apply(corev1.ConfigMap, { metadata: { name: "a", namespace: ns }, data: { y: "2" } });
  assert.deepEqual(merged.data, { x: "1", y: "2" }, "fields not in the configuration are kept");
  const again = await fake.apply(corev1.ConfigMap, { metadata: { name: "a", namespace: ns }, data: { y: "2" } });
  assert.equal(again.metadata?.resourceVersion, merged.metadata?.resourceVersion);
  const forced = await anonymous.apply(corev1.ConfigMap, cm("b"), { fieldManager: "other", force: true });
  assert.equal(forced.metadata?.name, "b");
});

test("finalizers: delete marks the object, new finalizers are refused, removing the last one deletes it", async () => {
  const fake = new FakeClient();
  const obj = await fake.create(Widget, {
    metadata: { name: "w", namespace: ns, finalizers: ["example.com/cleanup"] },
    spec: { size: 1 },
  });
  const key = { namespace: ns, name: "w" };
  const events = fake.watch(Widget, { namespace: ns, resourceVersion: obj.metadata?.resourceVersion });
  await rejects(fake.delete(Widget, key, { preconditions: { uid: "not-the-uid" } }), ConflictError);
  await rejects(fake.delete(Widget, key, { preconditions: { resourceVersion: "1" } }), ConflictError);

  const marked = (await fake.delete(Widget, key)) as Widget;
  assert.equal(marked.kind, "Widget");
  assert.match(marked.metadata?.deletionTimestamp ?? "", /Z$/);
  assert.equal(marked.metadata?.deletionGracePeriodSeconds, 0);
  assert.equal(marked.metadata?.generation, 2, "setting the deletionTimestamp bumps the generation");
  const held = await fake.get(Widget, key);
  assert.ok(held.metadata?.deletionTimestamp, "still there, being deleted");
  const again = (await fake.delete(Widget, key)) as Widget;
  assert.equal(again.metadata?.resourceVersion, held.metadata?.resourceVersion, "deleting again changes nothing");

  const refused = (await rejects(
    fake.patch(Widget, key, "merge", { metadata: { finalizers: ["example.com/cleanup", "late"] } }),
    InvalidError,
  )) as InvalidError;
  assert.equal(refused.causes[0]?.field, "metadata.finalizers");
  const spec = await fake.update(Widget, {
    ...held,
    metadata: { ...held.metadata, deletionTimestamp: undefined },
    spec: { size: 2 },
  });
  assert.deepEqual(spec.spec, { size: 2 }, "an object being deleted can still be updated");
  assert.equal(spec.metadata?.deletionTimestamp, held.metadata?.deletionTimestamp, "but not undeleted");

  await fake.patch(Widget, key, "merge", { metadata: { finalizers: null } });
  await rejects(fake.get(Widget, key), NotFoundError);
  assert.deepEqual(summary(await take(events, 4)), ["MODIFIED w", "MODIFIED w", "MODIFIED w", "DELETED w"]);

  await fake.create(corev1.ConfigMap, cm("plain"));
  const status = (await fake.delete(corev1.ConfigMap, { namespace: ns, name: "plain" })) as StatusBody;
  assert.equal(status.kind, "Status");
  assert.equal(status.status, "Success");
  assert.equal(status.details?.name, "plain");
  await rejects(fake.delete(corev1.ConfigMap, { namespace: ns, name: "plain" }), NotFoundError);
});

test("garbage collection: dependents go with their owner (finalizers respected); Orphan and Foreground policies", async () => {
  const fake = new FakeClient();
  const ownerRef = (o: KubeObject, kind: string, block = false) => ({
    apiVersion: "v1",
    kind,
    name: o.metadata?.name as string,
    uid: o.metadata?.uid as string,
    controller: true,
    ...(block ? { blockOwnerDeletion: true } : {}),
  });
  const make = (name: string, owners: KubeObject[], finalizers?: string[]) =>
    fake.create(corev1.ConfigMap, {
      metadata: {
        name,
        namespace: ns,
        ownerReferences: owners.map((o) => ownerRef(o, "ConfigMap")),
        ...(finalizers ? { finalizers } : {}),
      },
    });
  const root = await fake.create(corev1.ConfigMap, cm("root"));
  const other = await fake.create(corev1.ConfigMap, cm("other"));
  const child = await make("child", [root]);
  await make("grandchild", [child]);
  await make("held", [root], ["example.com/hold"]);
  await make("shared", [root, other]);

  await fake.delete(corev1.ConfigMap, { namespace: ns, name: "root" });
  const left = fake.peekList(corev1.ConfigMap, ns);
  assert.deepEqual(
    left.map((o) => o.metadata?.name),
    ["held", "other", "shared"],
  );
  assert.ok(left[0]?.metadata?.deletionTimestamp, "a dependent with finalizers is marked, not removed");
  assert.deepEqual(
    left[2]?.metadata?.ownerReferences?.map((r) => r.name),
    ["other"],
    "a dependent with another owner only loses the dangling reference",
  );

  // Orphan: dependents lose their reference to the owner and stay.
  const o = await fake.create(corev1.ConfigMap, cm("orphaner"));
  await make("kept", [o]);
  await fake.delete(corev1.ConfigMap, { namespace: ns, name: "orphaner" }, { propagationPolicy: "Orphan" });
  assert.equal(fake.peek(corev1.ConfigMap, { namespace: ns, name: "orphaner" }), undefined);
  assert.equal(fake.peek(corev1.ConfigMap, { namespace: ns, name: "kept" })?.metadata?.ownerReferences, undefined);

  // Foreground: the owner waits (with the foregroundDeletion finalizer) for blocking dependents.
  const fg = await fake.create(corev1.ConfigMap, cm("fg"));
  await fake.create(corev1.ConfigMap, {
    metadata: { name: "blocker", namespace: ns, ownerReferences: [ownerRef(fg, "ConfigMap", true)], finalizers: ["x"] },
  });
  const waiting = (await fake.delete(
    corev1.ConfigMap,
    { namespace: ns, name: "fg" },
    {
      propagationPolicy: "Foreground",
    },
  )) as corev1.ConfigMap;
  assert.deepEqual(waiting.metadata?.finalizers, ["foregroundDeletion"]);
  assert.ok(fake.peek(corev1.ConfigMap, { namespace: ns, name: "fg" }), "held by its blocking dependent");
  await fake.patch(corev1.ConfigMap, { namespace: ns, name: "blocker" }, "merge", { metadata: { finalizers: null } });
  assert.equal(fake.peek(corev1.ConfigMap, { namespace: ns, name: "blocker" }), undefined);
  assert.equal(fake.peek(corev1.ConfigMap, { namespace: ns, name: "fg" }), undefined, "released once it is gone");
});

test("list: namespaces, label selectors (full syntax), field selectors, sorting, built-in items without kind", async () => {
  const fake = new FakeClient({
    objects: [
      [corev1.ConfigMap, { metadata: { name: "b", namespace: "ns1", labels: { app: "web", tier: "front", n: "3" } } }],
      [corev1.ConfigMap, { metadata: { name: "a", namespace: "ns2", labels: { app: "web", tier: "back", n: "7" } } }],
      [corev1.ConfigMap, { metadata: { name: "c", namespace: "ns1", labels: { app: "db" } } }],
      [corev1.ConfigMap, { metadata: { name: "a", namespace: "ns1", labels: { app: "web", canary: "" } } }],
      [Widget, { metadata: { name: "w", namespace: "ns1" } }],
    ],
  });
  const names = async (opts: Parameters<FakeClient["list"]>[1]) =>
    (await fake.list(corev1.ConfigMap, opts)).items.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`);
  assert.deepEqual(await names({}), ["ns1/a", "ns1/b", "ns1/c", "ns2/a"]);
  assert.deepEqual(await names({ namespace: "ns1" }), ["ns1/a", "ns1/b", "ns1/c"]);
  assert.deepEqual(await names({ labelSelector: "app=web" }), ["ns1/a", "ns1/b", "ns2/a"]);
  assert.deepEqual(await names({ labelSelector: "app==web,tier!=back" }), ["ns1/a", "ns1/b"]);
  assert.deepEqual(await names({ labelSelector: "tier in (front, back)" }), ["ns1/b", "ns2/a"]);
  assert.deepEqual(await names({ labelSelector: "app notin (db),tier" }), ["ns1/b", "ns2/a"]);
  assert.deepEqual(await names({ labelSelector: "!tier" }), ["ns1/a", "ns1/c"]);
  assert.deepEqual(await names({ labelSelector: "canary" }), ["ns1/a"]);
  assert.deepEqual(await names({ labelSelector: "n>4" }), ["ns2/a"]);
  assert.deepEqual(await names({ fieldSelector: "metadata.name=a" }), ["ns1/a", "ns2/a"]);
  assert.deepEqual(await names({ fieldSelector: "metadata.namespace!=ns1,metadata.name==a" }), ["ns2/a"]);
  await rejects(fake.list(corev1.ConfigMap, { labelSelector: "app in (web" }), BadRequestError);
  await rejects(fake.list(corev1.ConfigMap, { fieldSelector: "metadata.name" }), BadRequestError);

  const list = await fake.list(corev1.ConfigMap, { namespace: "ns1" });
  assert.equal(list.kind, "ConfigMapList");
  assert.equal(list.items[0]?.kind, undefined, "like the apiserver, built-in list items carry no kind");
  assert.equal(list.metadata.resourceVersion, fake.resourceVersion);
  const widgets = await fake.list(Widget);
  assert.equal(widgets.items[0]?.kind, "Widget", "custom resources keep theirs");
  const meta = await fake.list(corev1.ConfigMap, { namespace: "ns2", metadataOnly: true });
  assert.deepEqual(meta.items[0], {
    apiVersion: "meta.k8s.io/v1",
    kind: "PartialObjectMetadata",
    metadata: fake.peek(corev1.ConfigMap, "ns2/a")?.metadata,
  });
});

test("paging: limit and continue, with the first page's resourceVersion; listAll pages by itself", async () => {
  const fake = new FakeClient();
  for (let i = 0; i < 23; i++) await fake.create(corev1.ConfigMap, cm(`cm-${String(i).padStart(2, "0")}`));
  const first = await fake.list(corev1.ConfigMap, { namespace: ns, limit: 10 });
  assert.equal(first.items.length, 10);
  assert.equal(first.metadata.remainingItemCount, 13);
  assert.ok(first.metadata.continue);
  await fake.create(corev1.ConfigMap, cm("zz-late"));
  const second = await fake.list(corev1.ConfigMap, { namespace: ns, limit: 10, continue: first.metadata.continue });
  assert.equal(second.items[0]?.metadata?.name, "cm-10");
  assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion);
  const pages: number[] = [];
  for await (const page of fake.listPages(corev1.ConfigMap, { namespace: ns, pageSize: 10 }))
    pages.push(page.items.length);
  assert.deepEqual(pages, [10, 10, 4]);
  const all = await fake.listAll(corev1.ConfigMap, { namespace: ns, pageSize: 7 });
  assert.equal(all.items.length, 24);
  await rejects(fake.list(corev1.ConfigMap, { continue: "garbage" }), BadRequestError);
});

test("watch: events in order, resume after a resourceVersion, 410 Expired beyond the history, selector transitions", async () => {
  const fake = new FakeClient({ watchHistory: 5 });
  const start = fake.resourceVersion;
  const events = fake.watch(corev1.ConfigMap, { namespace: ns });
  const a = await fake.create(corev1.ConfigMap, cm("a"));
  await fake.create(corev1.ConfigMap, { metadata: { name: "elsewhere", namespace: "other" } });
  await fake.patch(corev1.ConfigMap, { namespace: ns, name: "a" }, "merge", { data: { x: "1" } });
  await fake.delete(corev1.ConfigMap, { namespace: ns, name: "a" });
  const seen = await take(events, 3);
  assert.deepEqual(summary(seen), ["ADDED a", "MODIFIED a", "DELETED a"]);
  assert.deepEqual(seen[2]?.object.data, { x: "1" }, "DELETED carries the last state");
  const rvs = seen.map((e) => Number(e.object.metadata?.resourceVersion));
  assert.ok((rvs[0] as number) < (rvs[1] as number) && (rvs[1] as number) < (rvs[2] as number));
  await events.return(undefined);

  const resumed = await take(
    fake.watch(corev1.ConfigMap, { namespace: ns, resourceVersion: a.metadata?.resourceVersion }),
    2,
  );
  assert.deepEqual(summary(resumed), ["MODIFIED a", "DELETED a"]);

  for (let i = 0; i < 6; i++) await fake.create(corev1.ConfigMap, cm(`filler-${i}`));
  const [expired, ...rest] = await take(fake.watch(corev1.ConfigMap, { resourceVersion: start }), 2);
  assert.equal(expired?.type, "ERROR");
  const status = expired?.object as unknown as StatusBody;
  assert.equal(status.code, 410);
  assert.equal(status.reason, "Expired");
  assert.deepEqual(rest, [], "the stream ends after the error");
  assert.throws(() => {
    throw fakeApiError(410, "Expired", "too old");
  }, GoneError);

  // A filtered watch sees objects enter and leave the selection.
  const labelled = fake.watch(corev1.ConfigMap, { namespace: ns, labelSelector: "team=x" });
  await fake.patch(corev1.ConfigMap, { namespace: ns, name: "filler-0" }, "merge", {
    metadata: { labels: { team: "x" } },
  });
  await fake.patch(corev1.ConfigMap, { namespace: ns, name: "filler-0" }, "merge", { data: { y: "1" } });
  await fake.patch(corev1.ConfigMap, { namespace: ns, name: "filler-0" }, "merge", { metadata: { labels: null } });
  await fake.patch(corev1.ConfigMap, { namespace: ns, name: "filler-1" }, "merge", { data: { unrelated: "1" } });
  assert.deepEqual(summary(await take(labelled, 3)), ["ADDED filler-0", "MODIFIED filler-0", "DELETED filler-0"]);
  await labelled.return(undefined);
});

test("watch: bookmarks on request, initial events, abort, timeoutSeconds and close()", async () => {
  const fake = new FakeClient({ objects: [[corev1.ConfigMap, cm("seeded")]] });
  const withBookmarks = fake.watch(corev1.ConfigMap, { allowWatchBookmarks: true });
  const without = fake.watch(corev1.ConfigMap, {});
  fake.bookmark();
  await fake.create(corev1.ConfigMap, cm("after"));
  const [bookmark, added] = await take(withBookmarks, 2);
  assert.equal(bookmark?.type, "BOOKMARK");
  assert.deepEqual(bookmark?.object, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { resourceVersion: String(Number(fake.resourceVersion) - 1) },
  });
  assert.equal(added?.type, "ADDED");
  assert.deepEqual(summary(await take(without, 1)), ["ADDED after"], "no bookmark without allowWatchBookmarks");

  const initial = await take(
    fake.watch(corev1.ConfigMap, {
      sendInitialEvents: true,
      allowWatchBookmarks: true,
      resourceVersionMatch: "NotOlderThan",
    }),
    3,
  );
  assert.deepEqual(summary(initial), ["ADDED after", "ADDED seeded", "BOOKMARK "]);
  assert.equal(initial[2]?.object.metadata?.annotations?.["k8s.io/initial-events-end"], "true");
  await rejects(take(fake.watch(corev1.ConfigMap, { sendInitialEvents: true }), 1), InvalidError);

  const abort = new AbortController();
  const aborted = fake.watch(corev1.ConfigMap, { signal: abort.signal });
  const pending = aborted.next();
  abort.abort();
  await assert.rejects(pending, { name: "AbortError" });

  const started = Date.now();
  const timed = await take(fake.watch(corev1.ConfigMap, { timeoutSeconds: 0.05 }), 1);
  assert.deepEqual(timed, []);
  assert.ok(Date.now() - started < 500);

  const open = fake.watch(corev1.ConfigMap, {});
  const next = open.next();
  await fake.close();
  assert.deepEqual(await next, { done: true, value: undefined });
  await withBookmarks.return(undefined);
  await without.return(undefined);
});

test("dry runs validate and answer without storing, notifying watches or write listeners", async () => {
  const fake = new FakeClient();
  const writes: string[] = [];
  fake.onWrite((_type, w) => writes.push(`${w.verb} ${w.key.name}`));
  const events = fake.watch(corev1.ConfigMap, {});
  const rv = fake.resourceVersion;
  const would = await fake.create(corev1.ConfigMap, cm("a", { x: "1" }), { dryRun: true });
  assert.equal(would.metadata?.name, "a");
  assert.ok(would.metadata?.uid);
  assert.equal(fake.peek(corev1.ConfigMap, `${ns}/a`), undefined);
  await rejects(fake.create(corev1.ConfigMap, { metadata: { namespace: ns } }, { dryRun: true }), InvalidError);

  const real = await fake.create(corev1.ConfigMap, cm("a", { x: "1" }));
  const updated = await fake.update(corev1.ConfigMap, { ...real, data: { x: "2" } }, { dryRun: true });
  assert.deepEqual(updated.data, { x: "2" });
  await fake.patch(corev1.ConfigMap, `${ns}/a`, "merge", { data: { x: "3" } }, { dryRun: true });
  const status = (await fake.delete(corev1.ConfigMap, `${ns}/a`, { dryRun: true })) as StatusBody;
  assert.equal(status.status, "Success");
  assert.deepEqual(fake.peek(corev1.ConfigMap, `${ns}/a`)?.data, { x: "1" });
  assert.equal(Number(fake.resourceVersion), Number(rv) + 1, "only the real create was written");
  assert.deepEqual(writes, ["create a"]);
  assert.deepEqual(summary(await take(events, 1)), ["ADDED a"]);
  await fake.close();
  assert.deepEqual(await take(events, 1), [], "and nothing else reached the watch");
});

test("actions record every call, reads included; writes() and resetActions()", async () => {
  const fake = new FakeClient({ objects: [[appsv1.Deployment, { metadata: { name: "web", namespace: ns } }]] });
  assert.deepEqual(fake.actions, [], "seeding is not an action");
  await fake.get(appsv1.Deployment, `${ns}/web`);
  await fake.list(corev1.ConfigMap, { namespace: ns });
  await fake.create(corev1.ConfigMap, cm("a"));
  await fake.patch(appsv1.Deployment, `${ns}/web`, "merge", { status: { replicas: 1 } }, { subresource: "status" });
  await fake.updateScale(appsv1.Deployment, `${ns}/web`, 3);
  await fake.delete(corev1.ConfigMap, `${ns}/a`, { dryRun: true });
  await fake.get(corev1.ConfigMap, `${ns}/missing`).catch(() => undefined);
  const expected: FakeAction[] = [
    { verb: "get", apiVersion: "apps/v1", kind: "Deployment", namespace: ns, name: "web" },
    { verb: "list", apiVersion: "v1", kind: "ConfigMap", namespace: ns },
    { verb: "create", apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "a" },
    {
      verb: "patch",
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: ns,
      name: "web",
      subresource: "status",
      patchType: "merge",
    },
    {
      verb: "patch",
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: ns,
      name: "web",
      subresource: "scale",
      patchType: "merge",
    },
    { verb: "delete", apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "a", dryRun: true },
    { verb: "get", apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "missing" },
  ];
  assert.deepEqual(fake.actions, expected);
  assert.deepEqual(
    fake.writes().map((a) => `${a.verb} ${a.kind}`),
    ["create ConfigMap", "patch Deployment", "patch Deployment"],
  );
  fake.resetActions();
  await fake.get(appsv1.Deployment, `${ns}/web`);
  assert.deepEqual(fake.writes(), [], "no writes");
  assert.equal(fake.actions.length, 1);
});

test("interceptors inject failures: a Conflict on the first update is retried by retryOnConflict", async () => {
  let updates = 0;
  const bodies: unknown[] = [];
  const fake = new FakeClient({
    objects: [[corev1.ConfigMap, cm("a", { n: "0" })]],
    intercept: (act, body) => {
      if (act.verb !== "update") return undefined;
      bodies.push(body);
      updates++;
      return updates === 1 ? fakeApiError(409, "Conflict", "injected") : undefined;
    },
  });
  let attempts = 0;
  const result = await retryOnConflict(
    async () => {
      attempts++;
      const current = await fake.get(corev1.ConfigMap, `${ns}/a`);
      return fake.update(corev1.ConfigMap, { ...current, data: { n: String(attempts) } });
    },
    { baseDelayMs: 1 },
  );
  assert.equal(attempts, 2);
  assert.deepEqual(result.data, { n: "2" });
  assert.deepEqual((bodies[0] as corev1.ConfigMap).data, { n: "1" }, "the interceptor sees the body");
  assert.equal(fake.actions.filter((a) => a.verb === "update").length, 2, "failed calls are recorded too");

  fake.intercept = async (act) => (act.verb === "get" ? new Error("apiserver down") : undefined);
  await assert.rejects(fake.get(corev1.ConfigMap, `${ns}/a`), /apiserver down/);
  fake.intercept = undefined;
  assert.ok(await fake.get(corev1.ConfigMap, `${ns}/a`));
});

test("createOrUpdate and createOrPatch report created, unchanged and updated against the fake", async () => {
  const fake = new FakeClient();
  const key = { namespace: ns, name: "cfg" };
  const first = await fake.createOrUpdate(corev1.ConfigMap, key, (c) => {
    c.data = { greeting: "hello" };
  });
  assert.equal(first.result, "created");
  fake.resetActions();
  const same = await fake.createOrUpdate(corev1.ConfigMap, key, (c) => {
    c.data = { greeting: "hello" };
  });
  assert.equal(same.result, "unchanged");
  assert.equal(same.object.metadata?.resourceVersion, first.object.metadata?.resourceVersion);
  assert.deepEqual(fake.writes(), [], "unchanged means no write");
  const changed = await fake.createOrUpdate(corev1.ConfigMap, key, (c) => {
    c.data = { greeting: "bonjour" };
  });
  assert.equal(changed.result, "updated");
  assert.deepEqual(fake.peek(corev1.ConfigMap, key)?.data, { greeting: "bonjour" });

  const w = await fake.createOrPatch(Widget, { namespace: ns, name: "w" }, (o) => {
    o.spec = { size: 1 };
  });
  assert.equal(w.result, "created");
  const patched = await fake.createOrPatch(Widget, { namespace: ns, name: "w" }, (o) => {
    o.status = { ready: true };
  });
  assert.equal(patched.result, "updated");
  assert.deepEqual(patched.object.status, { ready: true }, "the status went through the status subresource");
  assert.equal(
    (
      await fake.createOrPatch(Widget, { namespace: ns, name: "w" }, (o) => {
        o.status = { ready: true };
      })
    ).result,
    "unchanged",
  );
});

test("scale subresource: getScale, updateScale and scale patches; kinds without one answer 404", async () => {
  const fake = new FakeClient({
    objects: [
      [
        appsv1.Deployment,
        {
          metadata: { name: "web", namespace: ns },
          spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: {} },
          status: { replicas: 1 },
        } as appsv1.Deployment,
      ],
    ],
  });
  const key = { namespace: ns, name: "web" };
  const scale = await fake.getScale(appsv1.Deployment, key);
  assert.equal(scale.kind, "Scale");
  assert.equal(scale.apiVersion, "autoscaling/v1");
  assert.deepEqual(scale.spec, { replicas: 1 });
  assert.deepEqual(scale.status, { replicas: 1, selector: "app=web" });
  const before = fake.peek(appsv1.Deployment, key);
  const scaled = await fake.updateScale(appsv1.Deployment, key, 3);
  assert.equal(scaled.spec?.replicas, 3);
  const after = fake.peek(appsv1.Deployment, key);
  assert.equal(after?.spec?.replicas, 3);
  assert.equal(after?.metadata?.generation, (before?.metadata?.generation ?? 0) + 1);
  const json = await fake.patch(appsv1.Deployment, key, "json", [{ op: "replace", path: "/spec/replicas", value: 0 }], {
    subresource: "scale",
  });
  assert.equal((json as unknown as { spec: { replicas: number } }).spec.replicas, 0);
  await rejects(fake.updateScale(appsv1.Deployment, key, -1), InvalidError);
  await rejects(fake.getScale(corev1.ConfigMap, key), NotFoundError);
  await rejects(fake.getScale(appsv1.Deployment, { namespace: ns, name: "missing" }), NotFoundError);
});

test("write listeners hear of every real write, as the cache's read-your-writes needs", async () => {
  const fake = new FakeClient({ fieldManager: "me" });
  const heard: string[] = [];
  const off = fake.onWrite((type, w) =>
    heard.push(`${w.verb} ${type.kind} ${w.key.name} ${w.object ? w.object.metadata?.resourceVersion : "gone"}`),
  );
  const a = await fake.create(corev1.ConfigMap, cm("a"));
  const b = await fake.update(corev1.ConfigMap, { ...a, data: { x: "1" } });
  const c = await fake.apply(corev1.ConfigMap, { metadata: { name: "a", namespace: ns }, data: { y: "1" } });
  await fake.delete(corev1.ConfigMap, `${ns}/a`);
  assert.deepEqual(heard, [
    `create ConfigMap a ${a.metadata?.resourceVersion}`,
    `update ConfigMap a ${b.metadata?.resourceVersion}`,
    `patch ConfigMap a ${c.metadata?.resourceVersion}`,
    "delete ConfigMap a gone",
  ]);
  off();
  await fake.create(corev1.ConfigMap, cm("b"));
  assert.equal(heard.length, 4);
  assert.ok(isNotFound(await fake.get(corev1.ConfigMap, `${ns}/a`).catch((e: unknown) => e)));
});
