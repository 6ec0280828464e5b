/** Running commands in projects made by `converge init`, for the end-to-end tests of the CLI and the package. */
import { execFile } from "node:child_process";

export const minutes = (n: number): number => n * 60_000;

/**
 * The environment for commands in a project: without what npm and the test runner set for this process (a
 * nested npm would take `npm_config_*` for its own configuration, a nested `node --test` would report to us).
 */
export function projectEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "INIT_CWD" && !k.startsWith("NODE_TEST")),
  );
  return { ...env, ...extra };
}

export interface Result {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion within a time limit; rejects with its output when it fails. */
export function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Result> {
  return new Promise<Result>((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      { cwd: options.cwd, env: options.env ?? projectEnv(), timeout: options.timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const why = err.killed ? `killed after ${options.timeoutMs} ms` : `exit code ${String(err.code)}`;
          reject(new Error(`${cmd} ${args.join(" ")} failed (${why})\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        } else resolvePromise({ stdout, stderr });
      },
    );
  });
}
