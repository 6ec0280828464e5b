import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { cli, linkedProject } from "../cli.test-helpers.ts";

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
