import assert from "node:assert/strict";
import { test } from "node:test";
import { fill } from "./fill.ts";

test("fill: values within lines, blocks on their own lines, sections kept or dropped with their markers", () => {
  const template =
    "name: [[name]]\n  [[#on]]\nkept: [[name]]\n  [[/on]]\n[[#off]]\ndropped\n[[/off]]\n[[block]]\n[[none]]\nend\n";
  assert.equal(
    fill(template, { name: "x", on: true, off: "", block: "a\nb", none: "" }),
    "name: x\nkept: x\na\nb\nend\n",
  );
  assert.equal(fill("a [[v]]", { v: "[[w]]" }), "a [[w]]", "values are not read again; no newline added at the end");
  assert.equal(fill("[[#outer]]\n[[#inner]]\nx\n[[/inner]]\n[[/outer]]\n", { outer: false, inner: "yes" }), "");
});

test("fill: a placeholder without a value, a flag as text, a misplaced or unclosed section name the template", () => {
  assert.throws(() => fill("[[nope]]\n", {}, "t.yaml"), /^Error: t\.yaml: no value for \[\[nope\]\]$/);
  assert.throws(() => fill("a: [[on]]\n", { on: true }, "t"), /\[\[on\]\] is a section's flag, not text/);
  assert.throws(() => fill("a [[#on]]\n", { on: true }, "t"), /\[\[#on\]\] must be alone on its line/);
  assert.throws(() => fill("[[#on]]\nx\n", { on: true }, "t"), /\[\[#on\]\] is not closed/);
  assert.throws(() => fill("[[#a]]\n[[/b]]\n", { a: true, b: true }, "t"), /\[\[\/b\]\] closes \[\[#a\]\]/);
});
