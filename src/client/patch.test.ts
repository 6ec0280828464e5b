import assert from "node:assert/strict";
import { test } from "node:test";
import { applyJsonPatch, applyMergePatch, deepEqual, JsonPatchError, jsonPatch, mergePatch } from "./patch.ts";

test("deepEqual treats undefined properties as absent and compares arrays in order", () => {
  assert.equal(deepEqual({ a: 1, b: undefined }, { a: 1 }), true);
  assert.equal(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), true);
  assert.equal(deepEqual({ a: [1, 2] }, { a: [2, 1] }), false);
  assert.equal(deepEqual({ a: null }, { a: undefined }), false);
  assert.equal(deepEqual({ a: { b: 1 } }, { a: { b: 1, c: 0 } }), false);
});

test("mergePatch sends changes, nulls removals, replaces arrays, and is undefined when nothing changed", () => {
  const before = { metadata: { labels: { a: "1", b: "2" } }, spec: { list: [1, 2], keep: true, gone: "x" } };
  const after = { metadata: { labels: { a: "1", c: "3" } }, spec: { list: [1, 2, 3], keep: true } };
  assert.deepEqual(mergePatch(before, after), {
    metadata: { labels: { b: null, c: "3" } },
    spec: { gone: null, list: [1, 2, 3] },
  });
  assert.equal(mergePatch(before, structuredClone(before)), undefined);
  assert.throws(() => mergePatch([], {}), /between two objects/);
});

test("jsonPatch: minimal operations that applyJsonPatch turns back into the target", () => {
  const from = { a: 1, b: { c: [1, 2], d: "x" }, "e/f": true, g: [1] };
  const to = { a: 2, b: { c: [1, 3], e: null }, "e/f": true, g: [1, 2], h: { i: 1 } };
  const ops = jsonPatch(from, to);
  assert.deepEqual(ops, [
    { op: "replace", path: "/a", value: 2 },
    { op: "remove", path: "/b/d" },
    { op: "replace", path: "/b/c/1", value: 3 },
    { op: "add", path: "/b/e", value: null },
    { op: "replace", path: "/g", value: [1, 2] },
    { op: "add", path: "/h", value: { i: 1 } },
  ]);
  assert.deepEqual(applyJsonPatch(from, ops), to);
  assert.deepEqual(jsonPatch(to, structuredClone(to)), []);
  assert.deepEqual(jsonPatch({ "a~b": 1 }, { "a~b": 2 }), [{ op: "replace", path: "/a~0b", value: 2 }]);
});

test("applyMergePatch merges objects, removes nulls, replaces arrays and leaves the target as it was", () => {
  const target = { a: 1, b: { c: [1, 2], d: "x" }, keep: { k: true } };
  const merged = applyMergePatch(target, { a: null, b: { c: [3], e: { f: 1 } }, g: "new" });
  assert.deepEqual(merged, { b: { c: [3], d: "x", e: { f: 1 } }, keep: { k: true }, g: "new" });
  assert.deepEqual(target, { a: 1, b: { c: [1, 2], d: "x" }, keep: { k: true } });
  assert.deepEqual(applyMergePatch({ a: 1 }, [1]), [1]);
  // A merge patch computed between two values gives the second back.
  const before = { spec: { x: 1, list: [1, 2], gone: true }, metadata: { labels: { a: "1" } } };
  const after = { spec: { x: 2, list: [2] }, metadata: { labels: { a: "1", b: "2" } } };
  assert.deepEqual(applyMergePatch(before, mergePatch(before, after)), after);
});

test("applyJsonPatch applies every RFC 6902 operation and refuses what cannot be applied", () => {
  const doc = { a: [1, 2], b: { c: "x" } };
  const patched = applyJsonPatch(doc, [
    { op: "add", path: "/a/1", value: 9 },
    { op: "add", path: "/a/-", value: 3 },
    { op: "copy", from: "/b/c", path: "/d" },
    { op: "move", from: "/b", path: "/e" },
    { op: "test", path: "/d", value: "x" },
    { op: "replace", path: "/a/0", value: 0 },
  ]);
  assert.deepEqual(patched, { a: [0, 9, 2, 3], d: "x", e: { c: "x" } });
  assert.deepEqual(doc, { a: [1, 2], b: { c: "x" } });
  assert.throws(() => applyJsonPatch(doc, [{ op: "test", path: "/b/c", value: "y" }]), JsonPatchError);
  assert.throws(() => applyJsonPatch(doc, [{ op: "remove", path: "/nope" }]), /nonexistent key/);
  assert.throws(() => applyJsonPatch(doc, [{ op: "replace", path: "/a/5", value: 1 }]), /out of bounds/);
  assert.throws(() => applyJsonPatch(doc, [{ op: "remove", path: "" }]), /whole document/);
});
