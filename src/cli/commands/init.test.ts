import assert from "node:assert/strict";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cli, repo, tempDir } from "../cli.test-helpers.ts";

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
  assert.equal(pkg.devDependencies.node, own.devDependencies.node, "the repository's Node");
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
