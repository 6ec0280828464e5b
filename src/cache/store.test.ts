import assert from "node:assert/strict";
import { test } from "node:test";
import { matchLabels, parseLabelSelector } from "../client/selector.ts";
import type { KubeObject } from "../types/resource.ts";
import { byOwnerUid, keyOf, Store } from "./store.ts";

const obj = (ns: string, name: string, owners: string[] = [], labels?: Record<string, string>): KubeObject => ({
  metadata: {
    namespace: ns,
    name,
    ...(labels ? { labels } : {}),
    ownerReferences: owners.map((uid) => ({ apiVersion: "v1", kind: "X", name: uid, uid })),
  },
});

test("keys are namespace/name, or name for cluster-scoped objects", () => {
  assert.equal(keyOf(obj("a", "b")), "a/b");
  assert.equal(keyOf({ metadata: { name: "node-1" } }), "node-1");
  assert.throws(() => keyOf({ metadata: {} }), /without metadata.name/);
});

test("indexes follow sets, replacements and deletes", () => {
  const store = new Store<KubeObject>();
  store.addIndex("owner", byOwnerUid);
  store.set("ns/a", obj("ns", "a", ["u1"]));
  store.set("ns/b", obj("ns", "b", ["u1", "u2"]));
  assert.deepEqual(store.byIndex("owner", "u1").map(keyOf).sort(), ["ns/a", "ns/b"]);
  store.set("ns/a", obj("ns", "a", ["u2"]));
  assert.deepEqual(store.byIndex("owner", "u1").map(keyOf), ["ns/b"]);
  assert.deepEqual(store.byIndex("owner", "u2").map(keyOf).sort(), ["ns/a", "ns/b"]);
  store.delete("ns/b");
  assert.deepEqual(store.byIndex("owner", "u1"), []);
  assert.deepEqual(store.byIndex("owner", "u2").map(keyOf), ["ns/a"]);
  assert.throws(() => store.byIndex("nope", "x"), /no index "nope"/);
  // An index added later covers what is already stored.
  store.addIndex("name", (o) => [o.metadata?.name ?? ""]);
  assert.deepEqual(store.byIndex("name", "a").map(keyOf), ["ns/a"]);
});

test("label selectors match like the apiserver's", () => {
  const m = parseLabelSelector("app=web, tier!=db,env in (prod, staging),track notin (canary),owner,!legacy");
  assert.equal(m({ app: "web", tier: "fe", env: "prod", owner: "x" }), true);
  assert.equal(m({ app: "web", env: "prod", owner: "x" }), true, "!= matches a missing label");
  assert.equal(m({ app: "web", env: "dev", owner: "x" }), false);
  assert.equal(m({ app: "web", env: "prod", owner: "x", track: "canary" }), false);
  assert.equal(m({ app: "web", env: "prod" }), false, "owner must exist");
  assert.equal(m({ app: "web", env: "prod", owner: "x", legacy: "" }), false);
  assert.equal(parseLabelSelector("")(undefined), true);
  assert.equal(parseLabelSelector("a==b")({ a: "b" }), true);
  assert.throws(() => parseLabelSelector("a=b,=c"), /invalid label selector "=c"/);
  assert.equal(matchLabels({ app: "web", tier: "fe" }), "app=web,tier=fe");
});
