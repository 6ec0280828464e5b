import assert from "node:assert/strict";
import { test } from "node:test";
import { addToOperator, kindFiles, markers, registration } from "./kind.ts";
import { kindNames } from "./names.ts";
import { projectFiles } from "./project.ts";
import { placeholder, relocateImports, renamer, templateFiles } from "./template.ts";

/** Any trace of the placeholder's names, in any case. */
const leftover = /notecard|notes\.example\.com/i;

test("a new project keeps nothing of the placeholder's names, in its files or their paths", async () => {
  for (const [kind, name] of [
    ["Memcached", "memcached-operator"],
    ["MemcachedBackup", "backups"],
    ["Class", "notes"], // a reserved word's variable; a project name that starts the placeholder's group
  ]) {
    const k = kindNames({ kind: kind as string, group: "cache.example.com", version: "v1" });
    const files = await projectFiles({ name: name as string, kind: k, convergeSpec: "^1.0.0" });
    for (const [path, content] of Object.entries(files)) {
      assert.doesNotMatch(path, leftover, path);
      assert.doesNotMatch(content, leftover, `${kind}: ${path}`);
    }
    assert.match(files["src/controller.ts"] ?? "", kind === "Class" ? /\(obj, ctx\) =>/ : /\(memcached\w*, ctx\) =>/);
    assert.match(files["README.md"] ?? "", new RegExp(`^# ${name}\n`));
    assert.ok(files[`config/samples/${k.lower}.yaml`]?.startsWith("apiVersion: cache.example.com/v1\n"));
  }
});

test("the template project is stored as it is written for its placeholder, bar two file names", async () => {
  const template = await templateFiles();
  const files = await projectFiles({ name: placeholder.project, kind: placeholder.kind, convergeSpec: "^0.1.0" });
  assert.deepEqual(Object.keys(files).sort(), [...template.keys()].sort());
  assert.ok(template.has(".gitignore") && template.has("package.json"));
  for (const [path, content] of Object.entries(files)) {
    if (!path.endsWith(".json")) assert.equal(content, template.get(path), path);
  }
});

test("create api's files: renamed for the kind, their imports following them, registered at the markers", async () => {
  const k = kindNames({ kind: "Memcached", group: "cache.example.com", version: "v1" });
  const files = await kindFiles(k);
  assert.deepEqual(Object.keys(files), [
    "src/api/memcached.ts",
    "src/controllers/memcached.ts",
    "test/memcached.test.ts",
    "config/samples/memcached.yaml",
  ]);
  for (const content of Object.values(files)) assert.doesNotMatch(content, leftover);
  assert.match(
    files["src/controllers/memcached.ts"] ?? "",
    /^import \{ Memcached \} from "\.\.\/api\/memcached\.ts";$/m,
  );
  const test = files["test/memcached.test.ts"] ?? "";
  assert.match(test, /^import \{ Memcached \} from "\.\.\/src\/api\/memcached\.ts";$/m);
  assert.match(test, /^import \{ memcachedController \} from "\.\.\/src\/controllers\/memcached\.ts";$/m);

  const operator = (await templateFiles()).get("src/operator.ts") ?? "";
  for (const marker of Object.values(markers)) assert.ok(operator.includes(marker), marker);
  const lines = registration(k, { api: "./api/memcached.ts", controller: "./controllers/memcached.ts" });
  assert.match(addToOperator(operator, lines) ?? "", / {4}NoteCard,\n {4}Memcached,\n {4}\/\/ \+converge/);
});

test("renaming is by whole words, longest first, and never renames a replacement", () => {
  const rename = renamer(kindNames({ kind: "NoteCardSet", group: "a.b", version: "v1" }), "noteCard");
  assert.equal(
    rename("notecard-operator notecard-sample notecards noteCardController(noteCard) NoteCards v1alpha1 v1alpha10"),
    "noteCard notecardset-sample notecardsets noteCardSetController(noteCardSet) NoteCards v1 v1alpha10",
  );
});

test("relocated imports point at where the imported template files went; others are kept", () => {
  const moved = new Map([
    ["src/api.ts", "src/api/x.ts"],
    ["src/controller.ts", "src/controllers/x.ts"],
  ]);
  const text = 'import { X } from "../src/api.ts";\nimport { y } from "../src/controller.ts";\nimport "./other.ts";\n';
  assert.equal(
    relocateImports(text, "test/unit.test.ts", "test/x.test.ts", moved),
    'import { X } from "../src/api/x.ts";\nimport { y } from "../src/controllers/x.ts";\nimport "./other.ts";\n',
  );
  assert.equal(
    relocateImports('import { X } from "./api.ts";\n', "src/controller.ts", "src/controllers/x.ts", moved),
    'import { X } from "../api/x.ts";\n',
  );
});
