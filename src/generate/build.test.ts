import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { BuildError, buildOperator, runtimeNodeFlags } from "./build.ts";

const repo = resolve(import.meta.dirname, "..", "..");

/** A project folder whose node_modules holds this repository as `converge-sdk` and its dependencies. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "converge-build-"));
  await mkdir(join(dir, "node_modules"));
  for (const entry of await readdir(join(repo, "node_modules"))) {
    if (!entry.startsWith(".") && entry !== "converge-sdk")
      await symlink(join(repo, "node_modules", entry), join(dir, "node_modules", entry));
  }
  await symlink(repo, join(dir, "node_modules", "converge-sdk"));
  const pkg = { name: "p", type: "module", dependencies: { "converge-sdk": "file:../converge", yaml: "^2" } };
  await writeFile(join(dir, "package.json"), JSON.stringify(pkg));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

test("buildOperator bundles the project's TypeScript and converge into dist/main.js; its own packages stay external", async (t) => {
  const dir = await project({
    "src/names.ts": "export const plural = (t: { plural: string }): string => t.plural;\n",
    "src/main.ts": [
      'import { corev1, Manager } from "converge-sdk";',
      'import { plural } from "./names.ts";',
      'import { stringify } from "yaml";',
      "const kinds: string[] = [plural(corev1.ConfigMap)];",
      "console.log(JSON.stringify({ kinds, manager: typeof Manager, yaml: stringify({ a: 1 }) }));",
      "",
    ].join("\n"),
  });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const result = await buildOperator({ dir });
  assert.equal(result.outFile, join(dir, "dist", "main.js"));
  const files = result.files.map((f) => f.path);
  assert.ok(files.includes("dist/main.js") && files.includes("dist/main.js.map"), files.join(", "));
  assert.ok(result.files.every((f) => f.bytes > 0));
  // converge-sdk and its own packages (pino, prom-client, ...) are bundled.
  assert.deepEqual(result.external, ["yaml"]);

  const { stdout } = await promisify(execFile)(process.execPath, [...runtimeNodeFlags, result.outFile], { cwd: dir });
  assert.deepEqual(JSON.parse(stdout), { kinds: ["configmaps"], manager: "function", yaml: "a: 1\n" });
});

test("buildOperator names a missing entry point and the file and line of a syntax error", async (t) => {
  const dir = await project({ "src/main.ts": "const x: number = ;\n" });
  t.after(() => rm(dir, { recursive: true, force: true }));
  await assert.rejects(buildOperator({ dir, entry: "src/nope.ts" }), (err: Error) => {
    assert.ok(err instanceof BuildError);
    assert.match(err.message, /src\/nope\.ts: no such file/);
    return true;
  });
  await assert.rejects(buildOperator({ dir }), (err: Error) => {
    assert.ok(err instanceof BuildError);
    assert.match(err.message, /src\/main\.ts:1: /);
    return true;
  });
});
