/** What `converge generate` does with generators' output: writes what changed, checks, removes what is obsolete. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { defineResource, Type } from "../definition/index.ts";
import { defineOperator } from "../operator/operator.ts";
import { crdGenerator, type Generator, generators, yamlFile } from "./index.ts";
import { generatedHeader, loadOperator, renderFiles, runGenerate } from "./run.ts";

const repo = resolve(import.meta.dirname, "..", "..");

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "converge-generate-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const Widget = defineResource({
  group: "test.example.com",
  kind: "Widget",
  versions: { v1: { spec: Type.Object({ size: Type.Integer() }) } },
});
const Gadget = defineResource({
  group: "test.example.com",
  kind: "Gadget",
  versions: { v1: { spec: Type.Object({ name: Type.String() }) } },
});
const op = (definitions = [Widget, Gadget]) => defineOperator({ name: "widgets", definitions, controllers: [] });

/** A second generator, so that several generators' outputs are written side by side. */
const notes: Generator = {
  name: "notes",
  generate: ({ op, namespace }) => [{ path: "NOTES.txt", content: `${op.name} runs in ${namespace}\n` }],
};

const widgetCrd = "config/crd/test.example.com_widgets.yaml";
const gadgetCrd = "config/crd/test.example.com_gadgets.yaml";

test("the generators converge generate runs start with the CRDs", () => {
  assert.equal(generators[0], crdGenerator);
  assert.equal(new Set(generators.map((g) => g.name)).size, generators.length, "generator names are unique");
});

test("generate writes what is missing, then nothing: a second run leaves every file alone", async (t) => {
  const dir = await tempDir(t);
  const first = await runGenerate(dir, op(), [crdGenerator, notes]);
  assert.equal(first.wrote, true);
  assert.deepEqual(
    first.changes.map((c) => [c.path, c.state, c.generator]),
    [
      ["NOTES.txt", "created", "notes"],
      [gadgetCrd, "created", "crds"],
      [widgetCrd, "created", "crds"],
    ],
  );
  const crd = await readFile(join(dir, widgetCrd), "utf8");
  assert.ok(crd.startsWith(generatedHeader));
  assert.match(crd, /name: widgets\.test\.example\.com/);
  assert.equal(await readFile(join(dir, "NOTES.txt"), "utf8"), "widgets runs in widgets-system\n");

  const before = (await stat(join(dir, widgetCrd))).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  const second = await runGenerate(dir, op(), [crdGenerator, notes]);
  assert.equal(second.wrote, false);
  assert.deepEqual(second.outOfDate, []);
  assert.ok(second.changes.every((c) => c.state === "unchanged"));
  assert.equal((await stat(join(dir, widgetCrd))).mtimeMs, before, "an unchanged file is not rewritten");
  assert.deepEqual((await runGenerate(dir, op(), [crdGenerator, notes], { check: true })).outOfDate, []);
});

test("check writes nothing and reports missing, stale and obsolete files; generate then fixes exactly those", async (t) => {
  const dir = await tempDir(t);
  await runGenerate(dir, op(), [crdGenerator]);
  await writeFile(join(dir, widgetCrd), "# edited by hand\n");
  // A file generated for a definition that is gone, and a hand-written one beside it.
  await writeFile(join(dir, "config/crd/test.example.com_olds.yaml"), `${generatedHeader} ...\nkind: Old\n`);
  await writeFile(join(dir, "config/crd/kustomization.yaml"), "resources: []\n");
  await rm(join(dir, gadgetCrd));

  const check = await runGenerate(dir, op(), [crdGenerator, notes], { check: true });
  assert.equal(check.wrote, false);
  assert.deepEqual(
    check.outOfDate.map((c) => [c.path, c.state]),
    [
      ["NOTES.txt", "created"],
      [gadgetCrd, "created"],
      ["config/crd/test.example.com_olds.yaml", "removed"],
      [widgetCrd, "updated"],
    ],
  );
  assert.equal(await readFile(join(dir, widgetCrd), "utf8"), "# edited by hand\n", "check wrote nothing");
  await assert.rejects(stat(join(dir, gadgetCrd)));

  const fix = await runGenerate(dir, op(), [crdGenerator, notes]);
  assert.equal(fix.wrote, true);
  assert.equal(fix.outOfDate.length, 4);
  await assert.rejects(stat(join(dir, "config/crd/test.example.com_olds.yaml")), "the obsolete file is removed");
  assert.equal(await readFile(join(dir, "config/crd/kustomization.yaml"), "utf8"), "resources: []\n");
  assert.deepEqual((await runGenerate(dir, op(), [crdGenerator, notes], { check: true })).outOfDate, []);

  // A definition removed from the operator: its CRD becomes obsolete.
  const removed = await runGenerate(dir, op([Widget]), [crdGenerator, notes]);
  assert.deepEqual(
    removed.outOfDate.map((c) => [c.path, c.state]),
    [[gadgetCrd, "removed"]],
  );
});

test("generators' paths must stay inside the project, and no two files may share one", async () => {
  const bad = (path: string): Generator => ({ name: "bad", generate: () => [{ path, content: "" }] });
  for (const path of ["/etc/passwd", "../outside.yaml", "config/../../x", "a//b", "", "a\\b"]) {
    await assert.rejects(renderFiles(op(), [bad(path)]), /generator "bad" produced a file with an invalid path/, path);
  }
  const twice: Generator = { name: "twice", generate: () => [yamlFile("x.yaml", []), yamlFile("x.yaml", [])] };
  await assert.rejects(renderFiles(op(), [twice]), /generator "twice" produced x\.yaml twice/);
  const crdsAgain: Generator = { name: "again", generate: () => [yamlFile(widgetCrd, [])] };
  await assert.rejects(renderFiles(op(), [crdGenerator, crdsAgain]), /generators "crds" and "again" both produce/);
  const failing: Generator = {
    name: "failing",
    generate: () => {
      throw new Error("boom");
    },
  };
  await assert.rejects(renderFiles(op(), [failing]), /generator "failing" failed: boom/);
});

test("loadOperator imports a module's default export and says what is wrong otherwise", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  const index = pathToFileURL(join(repo, "src", "index.ts")).href;
  await writeFile(
    join(dir, "good.ts"),
    `import { defineOperator, defineResource, Type } from "${index}";\n` +
      `const Thing = defineResource({ group: "t.example.com", kind: "Thing", versions: { v1: { spec: Type.Object({}) } } });\n` +
      `export default defineOperator({ name: "things", definitions: [Thing], controllers: [] });\n`,
  );
  await writeFile(join(dir, "nodefault.ts"), "export const x = 1;\n");
  await writeFile(join(dir, "missing-dep.ts"), 'import "no-such-package-here";\nexport default {};\n');
  const loaded = await loadOperator(join(dir, "good.ts"));
  assert.equal(loaded.name, "things");
  assert.equal(loaded.definitions[0]?.kind, "Thing");
  await assert.rejects(loadOperator(join(dir, "absent.ts")), /absent\.ts not found/);
  await assert.rejects(loadOperator(join(dir, "nodefault.ts")), /must have a default export made by defineOperator/);
  await assert.rejects(loadOperator(join(dir, "missing-dep.ts")), /cannot load .*no-such-package-here.*npm install/s);
});
