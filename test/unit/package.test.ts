/**
 * The published package (scripts/pack.ts): built and packed from the current sources into a temporary folder,
 * its file list holds JavaScript, declarations and source maps but no TypeScript source, every export target and
 * the executable bin; its manifest carries nothing of development.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import {
  type Manifest,
  type PackedFile,
  pack,
  packageAssets,
  packProblems,
  publishedManifest,
  repo,
} from "../../scripts/pack.ts";

const run = promisify(execFile);

test("the packed package: compiled entry points with types, the bin, README and LICENSE, no sources", async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), "converge-pack-"));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  const { tarball, manifest, files } = await pack({ dir: join(tmp, "package"), destination: tmp });
  const dev = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as Manifest;
  assert.equal(tarball, join(tmp, `converge-sdk-${dev.version}.tgz`));
  assert.deepEqual(packProblems(manifest, files), []);

  const paths = new Set(files.map((f) => f.path));
  assert.deepEqual(Object.keys(manifest.exports ?? {}), [".", "./runtime", "./cluster", "./testing", "./generate"]);
  assert.deepEqual(manifest.exports?.["./testing"], {
    types: "./dist/testing/index.d.ts",
    default: "./dist/testing/index.js",
  });
  assert.deepEqual(manifest.bin, { converge: "dist/cli/main.js" });
  for (const path of ["dist/index.js", "dist/index.d.ts", "dist/index.js.map", "README.md", "LICENSE"]) {
    assert.ok(paths.has(path), path);
  }
  // Modules the runtime starts by path, and the test runner's global setup.
  for (const path of ["dist/cluster/supervisor.js", "dist/testing/global-setup.js"]) assert.ok(paths.has(path), path);
  // The template project `converge init` copies, as it is in src/ (TypeScript and tests included, nothing compiled).
  const template = [...paths].filter((p) => p.startsWith("dist/cli/templates/project/")).sort();
  assert.ok(template.includes("dist/cli/templates/project/src/operator.ts"), template.join("\n"));
  assert.ok(template.includes("dist/cli/templates/project/test/unit.test.ts"), template.join("\n"));
  assert.ok(template.includes("dist/cli/templates/project/gitignore"), template.join("\n"));
  assert.ok(!template.some((p) => p.endsWith(".js")), "the template is not compiled");
  // The Helm chart's templates, which `converge generate` fills in.
  for (const path of [
    "generate/chart/values.yaml",
    "generate/chart/templates/deployment.yaml",
    "generate/chart/.helmignore",
  ]) {
    assert.ok(paths.has(`dist/${path}`), path);
  }
  const inAssets = (p: string) => packageAssets.some((a) => p.startsWith(`dist/${a}/`));
  assert.deepEqual(
    [...paths].filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts") && !inAssets(p)),
    [],
  );
  assert.equal(manifest.name, "converge-sdk");
  assert.equal(manifest.version, dev.version);
  assert.deepEqual(manifest.dependencies, dev.dependencies);
  for (const field of ["devDependencies", "workspaces", "private", "scripts"] as const) {
    assert.equal(manifest[field], undefined, field);
  }
  assert.match(manifest.engines?.node ?? "", /^>=22\./);
});

test("npm pack and npm publish in the repository root refuse, pointing at npm run pack", async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  for (const command of ["pack", "publish"]) {
    const failed = await run("npm", [command, "--dry-run"], { cwd: repo, env }).then(
      () => assert.fail(`npm ${command} succeeded`),
      (err: { code: number; stderr: string }) => err,
    );
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /Run `npm run pack`: it builds the package into dist\/package\//, command);
  }
});

test("packProblems names TypeScript sources outside the assets, missing targets and assets, a bin not executable, development fields", () => {
  const manifest = publishedManifest({
    name: "converge-sdk",
    version: "1.0.0",
    bin: { converge: "src/cli/main.ts" },
    exports: { ".": "./src/index.ts" },
    dependencies: { yaml: "^2" },
  });
  const file = (path: string, mode = 0o644): PackedFile => ({ path, size: 1, mode });
  const good = [
    file("package.json"),
    file("README.md"),
    file("LICENSE"),
    file("dist/index.js"),
    file("dist/index.js.map"),
    file("dist/index.d.ts"),
    file("dist/cli/main.js", 0o755),
    file("dist/cli/main.js.map"),
  ];
  const assets = ["cli/templates/project"];
  const template = [file("dist/cli/templates/project/src/api.ts"), file("dist/cli/templates/project/test/a.test.ts")];
  assert.deepEqual(packProblems(manifest, [...good, ...template], assets), [], "TypeScript and tests of an asset");
  assert.deepEqual(
    packProblems(
      { ...manifest, private: true, devDependencies: { node: "^24" }, dependencies: { node: "^24" } },
      [
        ...good.filter((f) => f.path !== "dist/index.d.ts" && f.path !== "LICENSE" && !f.path.startsWith("dist/cli")),
        file("dist/cli/main.js"),
        file("dist/cli/main.js.map"),
        file("dist/api.ts"),
        file("dist/api.js"),
      ],
      assets,
    ),
    [
      "dist/cli/templates/project/ is missing",
      "dist/api.ts: a TypeScript source",
      "dist/api.js: no source map",
      "LICENSE is missing",
      'exports["."].types: ./dist/index.d.ts is missing',
      "bin converge: dist/cli/main.js is not executable",
      "package.json has devDependencies",
      "package.json is private",
      "package.json depends on the node package",
    ],
  );
});
