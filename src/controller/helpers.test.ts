import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeObject } from "../types/resource.ts";
import { type Condition, findCondition, isConditionTrue, removeCondition, setCondition } from "./conditions.ts";
import { readPath } from "./handlers.ts";
import { controllerOf, groupOf, setControllerReference, setOwnerReference } from "./owners.ts";
import { allOf, annotationsChanged, anyOf, filter, generationChanged, labelsChanged } from "./predicates.ts";
import { parseKey, requeueAfter } from "./reconcile.ts";

test("setCondition changes lastTransitionTime only when the status changes", () => {
  const conditions: Condition[] = [];
  assert.equal(
    setCondition(conditions, {
      type: "Ready",
      status: "False",
      reason: "Starting",
      lastTransitionTime: "2026-01-01T00:00:00Z",
    }),
    true,
  );
  assert.equal(
    setCondition(conditions, {
      type: "Ready",
      status: "False",
      reason: "Starting",
      lastTransitionTime: "2026-02-02T00:00:00Z",
    }),
    false,
    "no change",
  );
  assert.equal(findCondition(conditions, "Ready")?.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(setCondition(conditions, { type: "Ready", status: "False", reason: "Waiting", message: "pods" }), true);
  assert.equal(
    findCondition(conditions, "Ready")?.lastTransitionTime,
    "2026-01-01T00:00:00Z",
    "reason changes keep the time",
  );
  assert.equal(
    setCondition(conditions, { type: "Ready", status: "True", reason: "Available", observedGeneration: 3 }),
    true,
  );
  const ready = findCondition(conditions, "Ready");
  assert.notEqual(ready?.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.match(ready?.lastTransitionTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(ready?.observedGeneration, 3);
  assert.equal(isConditionTrue(conditions, "Ready"), true);
  assert.equal(removeCondition(conditions, "Ready"), true);
  assert.equal(removeCondition(conditions, "Ready"), false);
});

const owner: KubeObject = {
  apiVersion: "apps.example.com/v1",
  kind: "App",
  metadata: { name: "a", namespace: "ns", uid: "u-1" },
};

test("setControllerReference sets one controller owner and refuses a second or a cross-namespace child", () => {
  const child: KubeObject = { metadata: { name: "c", namespace: "ns" } };
  setControllerReference(owner, child);
  assert.deepEqual(child.metadata?.ownerReferences, [
    {
      apiVersion: "apps.example.com/v1",
      kind: "App",
      name: "a",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    },
  ]);
  setControllerReference(owner, child);
  assert.equal(child.metadata?.ownerReferences?.length, 1, "idempotent");
  assert.equal(controllerOf(child)?.uid, "u-1");
  const other = { ...owner, metadata: { ...owner.metadata, name: "b", uid: "u-2" } };
  assert.throws(() => setControllerReference(other, child), /already controlled by App a/);
  setOwnerReference(other, child);
  assert.equal(child.metadata?.ownerReferences?.length, 2);
  assert.throws(
    () => setControllerReference(owner, { metadata: { name: "x", namespace: "elsewhere" } }),
    /cannot own an object in namespace elsewhere/,
  );
  assert.throws(() => setControllerReference(owner, { metadata: { name: "cluster-wide" } }), /cluster-scoped/);
  assert.throws(() => setControllerReference({ metadata: { name: "no-uid" } }, child), /needs apiVersion, kind/);
  assert.equal(groupOf("apps/v1"), "apps");
  assert.equal(groupOf("v1"), "");
});

test("predicates filter updates by generation, labels and annotations, and combine", () => {
  const a: KubeObject = { metadata: { name: "x", generation: 1, labels: { a: "1" }, annotations: { n: "1" } } };
  const sameGen = { metadata: { ...a.metadata, labels: { a: "2" } } };
  const newGen = { metadata: { ...a.metadata, generation: 2 } };
  assert.equal(generationChanged.update?.(a, sameGen), false);
  assert.equal(generationChanged.update?.(a, newGen), true);
  assert.equal(labelsChanged.update?.(a, sameGen), true);
  assert.equal(labelsChanged.update?.(a, newGen), false);
  assert.equal(annotationsChanged.update?.(a, { metadata: { ...a.metadata, annotations: {} } }), true);
  assert.equal(anyOf(generationChanged, labelsChanged).update?.(a, sameGen), true);
  assert.equal(allOf(generationChanged, labelsChanged).update?.(a, sameGen), false);
  const named = filter<KubeObject>((o) => o.metadata?.name === "x");
  assert.equal(named.create?.(a), true);
  assert.equal(named.delete?.({ metadata: { name: "y" } }), false);
});

test("keys, requeue and dotted paths", () => {
  assert.deepEqual(parseKey("ns/name"), { key: "ns/name", namespace: "ns", name: "name" });
  assert.deepEqual(parseKey("node-1"), { key: "node-1", namespace: undefined, name: "node-1" });
  assert.deepEqual(requeueAfter(500), { requeueAfterMs: 500 });
  assert.equal(readPath({ spec: { a: { b: 2 } } }, "spec.a.b"), 2);
  assert.equal(readPath({ spec: null }, "spec.a"), undefined);
});
