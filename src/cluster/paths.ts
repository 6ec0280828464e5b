import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where Converge keeps what outlives one process. Both live outside any work tree so that a fresh clone
 * (and CI on a reused machine) finds the binaries built before.
 *
 * - cache: built binaries and the Go wrapper modules (`CONVERGE_CACHE_DIR`, else `$XDG_CACHE_HOME/converge`,
 *   else `~/.cache/converge`).
 * - state: the data directories of named planes started by `converge cluster up` (`CONVERGE_STATE_DIR`, else
 *   `$XDG_STATE_HOME/converge`, else `~/.local/state/converge`).
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONVERGE_CACHE_DIR) return env.CONVERGE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "converge");
}

export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONVERGE_STATE_DIR) return env.CONVERGE_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "converge");
}

/** Data directory of a named plane managed by the CLI. */
export function planeDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(name)) {
    throw new Error(`invalid plane name "${name}": use lower-case letters, digits and '-' (at most 42 characters)`);
  }
  return join(stateRoot(env), "planes", name);
}
