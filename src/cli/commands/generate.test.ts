import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cli, linkedProject } from "../cli.test-helpers.ts";

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
