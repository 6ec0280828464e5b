/** Running the CLI as its own process, in temporary folders, for the tests of its commands. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

export const repo = resolve(import.meta.dirname, "..", "..");
const main = join(import.meta.dirname, "main.ts");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in `cwd`; resolves with its exit code and output whatever the code. */
export function cli(cwd: string, ...args: string[]): Promise<Run> {
  return promisify(execFile)(process.execPath, [main, ...args], { cwd, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );
}

/** A new temporary folder, removed after the test. */
export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "converge-project-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A scaffolded project whose `converge-sdk` resolves to this repository without an npm install. */
export async function linkedProject(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const tmp = await tempDir(t);
  const made = await cli(tmp, "init", "demo");
  assert.equal(made.code, 0, made.stderr);
  const dir = join(tmp, "demo");
  await mkdir(join(dir, "node_modules"));
  await symlink(repo, join(dir, "node_modules", "converge-sdk"));
  return dir;
}
