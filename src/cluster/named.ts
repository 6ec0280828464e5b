import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { type ComponentStatus, type ControlPlaneOptions, componentStatuses } from "./control-plane.ts";
import { planeDir } from "./paths.ts";
import { logTail, pidRuns } from "./process.ts";
import { type PlaneState, readPlaneState } from "./state.ts";
import type { SupervisorMessage } from "./supervisor.ts";

/**
 * Named planes that outlive the command that started them — the library side of `converge cluster up`,
 * `down` and `status`. Each runs under a detached supervisor; its data lives in `planeDir(name)`.
 */

export interface UpOptions extends Omit<ControlPlaneOptions, "dir" | "log" | "name"> {
  /** Progress lines, including the binary build's. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface UpResult {
  name: string;
  dir: string;
  kubeconfig: string;
  server: string;
  seconds: number;
}

function supervisorLog(dir: string): string {
  // Beside the data directory, not in it: starting a plane clears its data directory.
  return `${dir}.supervisor.log`;
}

/** Whether any process of the plane recorded in `state` is still alive. */
function liveProcesses(state: PlaneState): string[] {
  const alive = state.components.filter((c) => pidRuns(c.pid, c.binary)).map((c) => `${c.name} (pid ${c.pid})`);
  if (state.supervisorPid !== undefined && pidRuns(state.supervisorPid, "supervisor")) {
    alive.unshift(`supervisor (pid ${state.supervisorPid})`);
  }
  return alive;
}

/** Starts a named plane under a detached supervisor and resolves once it is ready. */
export async function upNamed(name: string, options: UpOptions = {}): Promise<UpResult> {
  const env = options.env ?? process.env;
  const dir = planeDir(name, env);
  const log = options.log ?? (() => {});
  const previous = await readPlaneState(dir);
  if (previous) {
    const alive = liveProcesses(previous);
    if (alive.length > 0) {
      throw new Error(
        `control plane "${name}" is already running (${alive.join(", ")}).\n` +
          `  export KUBECONFIG=${previous.kubeconfig}\n  or stop it with \`converge cluster down --name ${name}\``,
      );
    }
    log(`removing the stale data directory of "${name}" (${dir}); none of its processes is running`);
  }
  await mkdir(dirname(dir), { recursive: true });
  const { env: _env, log: _log, ...planeOptions } = options;
  const childOptions: ControlPlaneOptions = { ...planeOptions, name, dir };
  const logFile = supervisorLog(dir);
  const fd = openSync(logFile, "w");
  // Beside this module and in its language: supervisor.ts in the repository, supervisor.js in the package.
  const entry = join(import.meta.dirname, `supervisor${extname(import.meta.filename)}`);
  const child = spawn(process.execPath, [...process.execArgv, entry, JSON.stringify(childOptions)], {
    detached: true,
    stdio: ["ignore", fd, fd, "ipc"],
    env,
  });
  closeSync(fd);
  return new Promise<UpResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, result?: UpResult) => {
      if (settled) return;
      settled = true;
      process.off("SIGINT", onInterrupt);
      if (child.connected) child.disconnect();
      child.unref();
      if (err) reject(err);
      else if (result) resolve(result);
    };
    // Ctrl-C while starting: the supervisor stops what it started (its components die with it).
    const onInterrupt = () => {
      child.kill("SIGTERM");
      finish(new Error("interrupted; the partly started plane was stopped"));
    };
    process.on("SIGINT", onInterrupt);
    child.on("message", (m: SupervisorMessage) => {
      if (m.type === "log") log(m.line);
      else if (m.type === "error") finish(new Error(m.message));
      else finish(undefined, { name, dir, kubeconfig: m.kubeconfig, server: m.server, seconds: m.seconds });
    });
    child.on("exit", async (code, signal) => {
      if (settled) return;
      finish(
        new Error(
          `the control plane supervisor exited early (${signal ?? `code ${code}`}); last lines of ${logFile}:\n` +
            (await logTail(logFile)),
        ),
      );
    });
  });
}

export interface DownResult {
  /** False when no state was found for the name. */
  found: boolean;
  /** Processes that had to be killed because they outlived the supervisor's shutdown. */
  killed: string[];
  removed: boolean;
}

/** Stops a named plane: asks its supervisor to stop, kills leftovers, removes its data unless `keep`. */
export async function downNamed(
  name: string,
  options: { keep?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<DownResult> {
  const dir = planeDir(name, options.env);
  const state = await readPlaneState(dir);
  if (!state) {
    await rm(supervisorLog(dir), { force: true });
    return { found: false, killed: [], removed: false };
  }
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  if (state.supervisorPid !== undefined && pidRuns(state.supervisorPid, "supervisor")) {
    process.kill(state.supervisorPid, "SIGTERM");
    while (pidRuns(state.supervisorPid, "supervisor") && Date.now() < deadline) await sleep(100);
  }
  const killed: string[] = [];
  for (const c of state.components) {
    if (pidRuns(c.pid, c.binary)) {
      process.kill(c.pid, "SIGKILL");
      killed.push(`${c.name} (pid ${c.pid})`);
    }
  }
  if (state.supervisorPid !== undefined && pidRuns(state.supervisorPid, "supervisor")) {
    process.kill(state.supervisorPid, "SIGKILL");
    killed.push(`supervisor (pid ${state.supervisorPid})`);
  }
  for (const c of state.components) while (pidRuns(c.pid, c.binary) && Date.now() < deadline + 5_000) await sleep(50);
  if (!options.keep) {
    await rm(dir, { recursive: true, force: true });
    await rm(supervisorLog(dir), { force: true });
  }
  return { found: true, killed, removed: !options.keep };
}

export interface NamedStatus {
  name: string;
  dir: string;
  state: PlaneState | undefined;
  supervisor: { pid: number; running: boolean } | undefined;
  components: ComponentStatus[];
}

/** Pid, ports and health of each component of a named plane. */
export async function statusNamed(name: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<NamedStatus> {
  const dir = planeDir(name, options.env);
  const state = await readPlaneState(dir);
  if (!state) return { name, dir, state, supervisor: undefined, components: [] };
  const supervisor =
    state.supervisorPid === undefined
      ? undefined
      : { pid: state.supervisorPid, running: pidRuns(state.supervisorPid, "supervisor") };
  return { name, dir, state, supervisor, components: await componentStatuses(state) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
