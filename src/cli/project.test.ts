import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { defineResource, Type } from "../definition/index.ts";
import { crdGenerator, type Generator, generators, yamlFile } from "../generate/index.ts";
import { generatedHeader, loadOperator, renderFiles, runGenerate } from "../generate/run.ts";
import { defineOperator } from "../operator/operator.ts";
import { addToOperator, markers, registration } from "./templates/kind.ts";
import { kindNames, kindProblem, projectNameProblem } from "./templates/names.ts";

const repo = resolve(import.meta.dirname, "..", "..");
const main = join(import.meta.dirname, "main.ts");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; resolves with its exit code and output whatever the code. */
function cli(cwd: string, ...args: string[]): Promise<Run> {
  return promisify(execFile)(process.execPath, [main, ...args], { cwd, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "converge-project-"));
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

test("scaffold names: kinds, groups, versions and project names are checked", () => {
  assert.equal(kindProblem({ group: "example.com", version: "v1alpha1", kind: "Sample" }), undefined);
  assert.match(kindProblem({ group: "example.com", version: "v1", kind: "sample" }) ?? "", /UpperCamelCase/);
  assert.match(kindProblem({ group: "example", version: "v1", kind: "Sample" }) ?? "", /at least one dot/);
  assert.match(kindProblem({ group: "Example.com", version: "v1", kind: "Sample" }) ?? "", /lower-case DNS/);
  assert.match(kindProblem({ group: "example.com", version: "1", kind: "Sample" }) ?? "", /version "1"/);
  assert.match(kindProblem({ group: "example.com", version: "v0", kind: "Sample" }) ?? "", /version "v0"/);
  assert.equal(projectNameProblem("memcached-operator"), undefined);
  assert.match(projectNameProblem("Memcached") ?? "", /DNS label/);
  const k = kindNames({ group: "cache.example.com", version: "v1", kind: "MemcachedBackup" });
  assert.deepEqual(
    [k.lower, k.plural, k.crdName, k.controllerFactory, k.variable],
    [
      "memcachedbackup",
      "memcachedbackups",
      "memcachedbackups.cache.example.com",
      "memcachedBackupController",
      "memcachedBackup",
    ],
  );
  assert.equal(kindNames({ group: "a.b", version: "v1", kind: "Class" }).variable, "obj", "not a reserved word");
});

test("registering a kind in an operator module goes above its markers, at their indentation", () => {
  const k = kindNames({ group: "cache.example.com", version: "v1", kind: "Memcached" });
  const lines = registration(k, { api: "./api/memcached.ts", controller: "./controllers/memcached.ts" });
  const source = `import { defineOperator } from "converge-sdk";\n${markers.imports}\n\nexport default defineOperator({\n  definitions: [\n    ${markers.definitions}\n  ],\n  controllers: [\n    ${markers.controllers}\n  ],\n});\n`;
  assert.equal(
    addToOperator(source, lines),
    `import { defineOperator } from "converge-sdk";\n` +
      `import { Memcached } from "./api/memcached.ts";\n` +
      `import { memcachedController } from "./controllers/memcached.ts";\n${markers.imports}\n\n` +
      `export default defineOperator({\n  definitions: [\n    Memcached,\n    ${markers.definitions}\n  ],\n` +
      `  controllers: [\n    memcachedController,\n    ${markers.controllers}\n  ],\n});\n`,
  );
  assert.equal(addToOperator(source.replace(markers.controllers, ""), lines), undefined);
});

test("every project command has --help", async () => {
  const commands = [["init"], ["create"], ["create", "api"], ["generate"], ["install"], ["uninstall"], ["run"]];
  for (const cmd of [...commands, ["dev"]]) {
    const { code, stdout } = await cli(repo, ...cmd, "--help");
    assert.equal(code, 0, cmd.join(" "));
    assert.match(stdout, new RegExp(`^Usage: converge ${cmd.join(" ")} `), cmd.join(" "));
  }
  const { stdout } = await cli(repo, "--help");
  for (const name of ["init", "create", "generate", "install", "uninstall", "run", "dev", "cluster"]) {
    assert.match(stdout, new RegExp(`\\n  ${name} `), name);
  }
  const { version } = JSON.parse(await readFile(join(repo, "package.json"), "utf8"));
  const init = (await cli(repo, "init", "--help")).stdout.replace(/\s+/g, " ");
  assert.ok(init.includes(`--converge <spec> the converge-sdk dependency: a version or range, or a path`), init);
  assert.ok(init.includes(`(default: "^${version}")`), init);
});

test("init scaffolds a project in a new or empty folder, and refuses anything else", async (t) => {
  const tmp = await tempDir(t);
  const made = await cli(
    tmp,
    "init",
    "demo",
    "--group",
    "demo.example.com",
    "--kind",
    "Greeting",
    "--version",
    "v1beta1",
  );
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /created demo\/src\/api\.ts/);
  assert.match(made.stdout, /npm install/);
  const dir = join(tmp, "demo");
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  assert.equal(pkg.type, "module");
  assert.deepEqual(pkg.scripts, {
    start: "node src/main.ts",
    test: 'node --test "test/**/*.test.ts"',
    generate: "converge generate",
    build: "converge build",
  });
  const own = JSON.parse(await readFile(join(repo, "package.json"), "utf8"));
  assert.deepEqual(pkg.dependencies, { "converge-sdk": `^${own.version}` });
  assert.equal(pkg.devDependencies.node, own.devDependencies.node, "the repository's Node (projectNodeSpec)");
  assert.deepEqual(pkg.allowScripts, { node: true, esbuild: true });
  const tsconfig = JSON.parse(await readFile(join(dir, "tsconfig.json"), "utf8"));
  for (const option of ["strict", "erasableSyntaxOnly", "allowImportingTsExtensions", "noEmit"]) {
    assert.equal(tsconfig.compilerOptions[option], true, option);
  }
  assert.equal(tsconfig.compilerOptions.module, "nodenext");
  const api = await readFile(join(dir, "src", "api.ts"), "utf8");
  assert.match(api, /export const Greeting = defineResource\(\{\n {2}group: "demo\.example\.com",/);
  assert.match(api, / {4}v1beta1: \{/);
  assert.match(api, /conditions: Type\.Optional\(conditions\(/);
  assert.match(await readFile(join(dir, "src", "operator.ts"), "utf8"), /name: "demo",/);
  assert.match(
    await readFile(join(dir, "config", "samples", "greeting.yaml"), "utf8"),
    /^apiVersion: demo\.example\.com\/v1beta1\n/,
  );
  for (const file of [
    "README.md",
    ".gitignore",
    "src/controller.ts",
    "src/main.ts",
    "test/unit.test.ts",
    "test/e2e.test.ts",
  ]) {
    await stat(join(dir, file));
  }

  const again = await cli(tmp, "init", "demo");
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: demo is not empty/);
  await mkdir(join(tmp, "empty"));
  const inEmpty = await cli(tmp, "init", "other", "--dir", "empty", "--converge", "~0.1.2");
  assert.equal(inEmpty.code, 0, inEmpty.stderr);
  const dependency = async (folder: string) =>
    JSON.parse(await readFile(join(tmp, folder, "package.json"), "utf8")).dependencies["converge-sdk"];
  assert.equal(await dependency("empty"), "~0.1.2");
  // Paths are relative to where init runs, not to the new package.json: they are written absolute.
  for (const [spec, folder, expected] of [
    ["../converge-sdk-0.1.0.tgz", "tarball", `file:${join(tmp, "..", "converge-sdk-0.1.0.tgz")}`],
    ["file:converge", "checkout", `file:${join(tmp, "converge")}`],
    [repo, "absolute", `file:${repo}`],
  ] as const) {
    const r = await cli(tmp, "init", folder, "--converge", spec);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await dependency(folder), expected, spec);
  }

  for (const [args, message] of [
    [["Bad_Name"], /project name "Bad_Name" must be a DNS label/],
    [["ok", "--kind", "lower"], /kind "lower" must be UpperCamelCase/],
    [["ok", "--group", "nodot"], /group "nodot"/],
    [["ok", "--version", "1.0"], /version "1\.0"/],
  ] as const) {
    const r = await cli(tmp, "init", ...args);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

/** A scaffolded project whose `converge-sdk` resolves to this repository without an npm install. */
async function linkedProject(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const tmp = await tempDir(t);
  const made = await cli(tmp, "init", "demo");
  assert.equal(made.code, 0, made.stderr);
  const dir = join(tmp, "demo");
  await mkdir(join(dir, "node_modules"));
  await symlink(repo, join(dir, "node_modules", "converge-sdk"));
  return dir;
}

test("generate in a scaffolded project: writes the CRD, then nothing; --check passes, and fails when stale", async (t) => {
  const dir = await linkedProject(t);
  const crd = "config/crd/example.com_samples.yaml";
  const first = await cli(dir, "generate");
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^wrote ${crd}$`, "m"));
  // Every generator's files (CRDs, RBAC, manifests, chart) are written once.
  const written = Number(/^(\d+) written, 0 unchanged$/m.exec(first.stdout)?.[1]);
  assert.equal(written, first.stdout.split("\n").filter((l) => l.startsWith("wrote ")).length);
  assert.match(await readFile(join(dir, crd), "utf8"), /name: samples\.example\.com/);
  const second = await cli(dir, "generate");
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, `nothing to write: ${written} generated files up to date\n`);
  const check = await cli(dir, "generate", "--check");
  assert.equal(check.code, 0, check.stderr);
  assert.equal(check.stdout, `${written} generated files up to date\n`);

  await writeFile(join(dir, crd), "stale\n");
  const stale = await cli(join(dir, "src"), "generate", "--check", "--dir", "..");
  assert.equal(stale.code, 1);
  assert.match(
    stale.stderr,
    /^error: 1 generated file out of date; run `converge generate`:\n {2}stale {4}config\/crd/,
  );
  assert.equal(await readFile(join(dir, crd), "utf8"), "stale\n");

  const missing = await cli(dir, "generate", "--operator", "src/nope.ts");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: .*nope\.ts not found/);
});

test("create api adds a kind, its controller, a unit test and a sample, and registers them", async (t) => {
  const dir = await linkedProject(t);
  const r = await cli(dir, "create", "api", "--group", "cache.example.com", "--version", "v1", "--kind", "Memcached");
  assert.equal(r.code, 0, r.stderr);
  for (const file of ["src/api/memcached.ts", "src/controllers/memcached.ts", "test/memcached.test.ts"]) {
    assert.match(r.stdout, new RegExp(`created ${file}`));
  }
  assert.match(r.stdout, /registered Memcached and memcachedController in src\/operator\.ts/);
  const operator = await readFile(join(dir, "src", "operator.ts"), "utf8");
  assert.match(operator, /import \{ Memcached \} from "\.\/api\/memcached\.ts";\n/);
  assert.match(operator, / {4}Sample,\n {4}Memcached,\n/);
  assert.match(operator, / {4}sampleController,\n {4}memcachedController,\n/);
  assert.match(
    await readFile(join(dir, "src", "controllers", "memcached.ts"), "utf8"),
    /import \{ Memcached \} from "\.\.\/api\/memcached\.ts";/,
  );
  const generated = await cli(dir, "generate");
  assert.match(generated.stdout, /^wrote config\/crd\/cache\.example\.com_memcacheds\.yaml$/m);
  assert.match(generated.stdout, /^wrote config\/crd\/example\.com_samples\.yaml$/m);

  // The scaffolded unit tests run as they are.
  const tests = await promisify(execFile)(process.execPath, ["--test", "test/unit.test.ts", "test/memcached.test.ts"], {
    cwd: dir,
    timeout: 60_000,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NODE_TEST"))),
  });
  assert.match(tests.stdout, /# pass 2|ℹ pass 2/);

  const twice = await cli(dir, "create", "api", "--group", "cache.example.com", "--kind", "Memcached");
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /Memcached \(cache\.example\.com\) is already defined in src\/api\/memcached\.ts/);
  const missingOption = await cli(dir, "create", "api", "--group", "cache.example.com");
  assert.equal(missingOption.code, 1);
  assert.match(missingOption.stderr, /required option '--kind <kind>' not specified/);

  // Without the markers, the lines to add are shown instead.
  await writeFile(join(dir, "src", "operator.ts"), operator.replaceAll(/^.*\+converge:scaffold.*\n/gm, ""));
  const manual = await cli(dir, "create", "api", "--group", "cache.example.com", "--kind", "Backup");
  assert.equal(manual.code, 0, manual.stderr);
  assert.match(manual.stdout, /register the kind in src\/operator\.ts/);
  assert.match(manual.stdout, /import \{ backupController \} from "\.\/controllers\/backup\.ts";/);
  assert.doesNotMatch(await readFile(join(dir, "src", "operator.ts"), "utf8"), /Backup/);
});
