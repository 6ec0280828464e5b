import assert from "node:assert/strict";
import { test } from "node:test";
import { deepEqual, mergePatch } from "./patch.ts";

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
