import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cli, repo } from "./cli.test-helpers.ts";

const commands = [
  ["cluster"],
  ...["up", "down", "status", "kubeconfig", "binaries"].map((c) => ["cluster", c]),
  ["init"],
  ["create"],
  ["create", "api"],
  ...["generate", "install", "uninstall", "run", "dev", "build", "import"].map((c) => [c]),
];

test("every command has --help, and the program's lists them all", async () => {
  for (const cmd of [[], ...commands]) {
    const { code, stdout } = await cli(repo, ...cmd, "--help");
    assert.equal(code, 0, cmd.join(" "));
    assert.match(stdout, new RegExp(`^Usage: converge${cmd.length ? ` ${cmd.join(" ")}` : ""} `), cmd.join(" "));
  }
  const { stdout } = await cli(repo, "--help");
  for (const name of commands.filter((c) => c.length === 1).flat()) {
    assert.match(stdout, new RegExp(`\\n  ${name} `), name);
  }
  const { version } = JSON.parse(await readFile(join(repo, "package.json"), "utf8"));
  const init = (await cli(repo, "init", "--help")).stdout.replace(/\s+/g, " ");
  assert.ok(init.includes(`--converge <spec> the converge-sdk dependency: a version or range, or a path`), init);
  assert.ok(init.includes(`(default: "^${version}")`), init);
});

test("bad input is refused with a message, not a stack trace", async () => {
  const badPort = await cli(repo, "cluster", "up", "--port", "http");
  assert.equal(badPort.code, 1);
  assert.match(badPort.stderr, /option '-p, --port <port>' argument 'http' is invalid/);
  const badName = await cli(repo, "cluster", "status", "--name", "Bad_Name");
  assert.match(badName.stderr, /^error: invalid plane name "Bad_Name"/);
  assert.doesNotMatch(badName.stderr, /\n\s+at /);
  const missing = await cli(repo, "create", "api", "--group", "cache.example.com");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /required option '--kind <kind>' not specified\n\nUsage: converge create api /);
});
