import assert from "node:assert/strict";
import { test } from "node:test";
import * as emit from "./typescript.ts";

test("literals and keys are written as Biome writes them", () => {
  assert.equal(emit.stringLiteral("plain"), '"plain"');
  assert.equal(emit.stringLiteral('say "hi"'), `'say "hi"'`);
  assert.equal(emit.stringLiteral("a\nb\\c\u2028"), '"a\\nb\\\\c\\u2028"');
  assert.equal(emit.literal(3), "3");
  assert.equal(emit.literal(null), "null");
  assert.equal(emit.propertyKey("apiVersion"), "apiVersion");
  assert.equal(emit.propertyKey("x-kubernetes-list-type"), '"x-kubernetes-list-type"');
});

test("docComment: one line when it fits, wrapped or kept whole, long ones cut, */ escaped", () => {
  assert.deepEqual(emit.docComment("  \n "), []);
  assert.deepEqual(emit.docComment("One line */ here."), ["/** One line *\\/ here. */"]);
  assert.deepEqual(emit.docComment("First.\r\n\r\n  indented  twice"), [
    "/**",
    " * First.",
    " *",
    " *   indented  twice",
    " */",
  ]);
  const long = `${"word ".repeat(30)}end`;
  assert.deepEqual(emit.docComment(long, { indent: "  ", width: 60 }), [
    "  /**",
    "   * word word word word word word word word word word word",
    "   * word word word word word word word word word word word",
    "   * word word word word word word word word end",
    "   */",
  ]);
  const cut = emit.docComment(`${"A sentence. ".repeat(200)}\n\nMore info: https://example.com/x`, { maxLength: 1500 });
  assert.match(cut.join("\n"), / \[…\]\n \*\n \* More info: https:\/\/example\.com\/x\n \*\/$/);
});

test("type expressions break as Biome breaks them: unions a member a line, Records an argument a line", () => {
  const long = (n: string): emit.TypeExpr => emit.typeName(`${n}${"x".repeat(40)}`);
  const at2 = (key: string, t: emit.TypeExpr) => emit.print(["  ", emit.indent(emit.propertySignature(key, t))]);
  assert.equal(
    at2("short", emit.union([emit.typeName("string"), emit.typeName("number")])),
    "  short: string | number;",
  );
  assert.equal(
    at2("field", emit.union([long("A"), long("B"), long("C")])),
    `  field:\n    | A${"x".repeat(40)}\n    | B${"x".repeat(40)}\n    | C${"x".repeat(40)};`,
  );
  assert.equal(
    at2("items", { kind: "array", of: emit.union([long("A"), long("B"), long("C")]) }),
    `  items: (\n    | A${"x".repeat(40)}\n    | B${"x".repeat(40)}\n    | C${"x".repeat(40)}\n  )[];`,
  );
  assert.equal(
    at2("byName", { kind: "record", of: emit.union([long("A"), long("B"), long("C")]) }),
    `  byName: Record<\n    string,\n    | A${"x".repeat(40)}\n    | B${"x".repeat(40)}\n    | C${"x".repeat(40)}\n  >;`,
  );
  assert.equal(
    emit.print(emit.typeAliasDeclaration("Short", emit.union([emit.typeName('"a"'), emit.typeName('"b"')]))),
    'export type Short = "a" | "b";',
  );
  assert.equal(emit.union([emit.typeName("a"), emit.union([emit.typeName("a"), emit.typeName("b")])]).kind, "union");
  assert.deepEqual(emit.union([emit.typeName("a"), emit.typeName("a")]), emit.typeName("a"));
});

test("calls and objects hug or break as Prettier lays them out", () => {
  assert.equal(
    emit.print(emit.call("Type.Object", [emit.object([emit.prop("a", "Type.String()")])])),
    "Type.Object({ a: Type.String() })",
  );
  const props = Array.from({ length: 8 }, (_, i) => emit.prop(`field${i}`, "Type.String()"));
  assert.equal(emit.print(emit.call("Type.Object", [emit.object(props)])).split("\n")[0], "Type.Object({");
  assert.equal(emit.print(emit.object([emit.prop("k", '"v"', "A comment.")])), '{\n  /** A comment. */\n  k: "v",\n}');
});
