import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const main = join(import.meta.dirname, "main.ts");
const run = (...args: string[]) => promisify(execFile)(process.execPath, [main, ...args]);

test("every command has --help", async () => {
  for (const cmd of [
    [],
    ["cluster"],
    ...["up", "down", "status", "kubeconfig", "binaries"].map((c) => ["cluster", c]),
    ...["init", "generate", "install", "uninstall", "run", "dev", "import"].map((c) => [c]),
    ["create", "api"],
  ]) {
    const { stdout } = await run(...cmd, "--help");
    assert.match(stdout, new RegExp(`^Usage: converge${cmd.length ? ` ${cmd.join(" ")}` : ""} `), cmd.join(" "));
  }
});

test("bad input is refused with a message, not a stack trace", async () => {
  await assert.rejects(run("cluster", "up", "--port", "http"), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /option '-p, --port <port>' argument 'http' is invalid/);
    return true;
  });
  await assert.rejects(run("cluster", "status", "--name", "Bad_Name"), (err: { stderr: string }) => {
    assert.match(err.stderr, /^error: invalid plane name "Bad_Name"/);
    assert.doesNotMatch(err.stderr, /\n\s+at /);
    return true;
  });
});
