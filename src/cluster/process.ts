import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/**
 * On Linux every component is started through `setpriv --pdeathsig SIGKILL`, which asks the kernel to kill it
 * when the process that started it dies — even by SIGKILL, when no exit handler of ours can run. That is what
 * keeps a crashed or killed test run from leaving etcd and kube-apiserver behind.
 */
const setpriv = process.platform === "linux" ? findSetpriv() : undefined;

function findSetpriv(): string | undefined {
  for (const p of ["/usr/bin/setpriv", "/bin/setpriv"]) {
    if (spawnSync(p, ["--help"], { stdio: "ignore" }).status === 0) return p;
  }
  return undefined;
}

/** Whether components die with their parent even when it is SIGKILLed. */
export const boundToParentDeath = setpriv !== undefined;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort for platforms without pdeathsig and for normal exits: kill what is still running. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

export interface ComponentProcessOptions {
  name: string;
  binary: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/** One running component: its pid, log file and a promise that settles when it exits. */
export class ComponentProcess {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(options: ComponentProcessOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    installExitHook();
    const fd = openSync(options.logFile, "a");
    const [cmd, args] = setpriv
      ? [setpriv, ["--pdeathsig", "SIGKILL", "--", options.binary, ...options.args]]
      : [options.binary, [...options.args]];
    try {
      this.child = spawn(cmd, args, { stdio: ["ignore", fd, fd], env: options.env ?? process.env });
    } finally {
      closeSync(fd);
    }
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        live.delete(this.child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once("error", (err) => {
        live.delete(this.child);
        this.exitInfo = { code: null, signal: null };
        this.spawnError = err;
        resolve(this.exitInfo);
      });
    });
  }

  spawnError: Error | undefined;

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** A message for a component that exited when it should not have, with the last lines of its log. */
  async describeExit(): Promise<string> {
    if (this.spawnError) return `${this.name} could not be started: ${this.spawnError.message}`;
    const info = this.exitInfo;
    const how = info?.signal ? `was killed by ${info.signal}` : `exited with code ${info?.code}`;
    return `${this.name} ${how}. Last lines of ${this.logFile}:\n${await logTail(this.logFile)}`;
  }

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5_000, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The last `lines` lines of a log file, indented, for error messages. */
export async function logTail(path: string, lines = 15): Promise<string> {
  try {
    const text = await readFile(path, "utf8");
    return text
      .trimEnd()
      .split("\n")
      .slice(-lines)
      .map((l) => `    ${l}`)
      .join("\n");
  } catch {
    return "    (no log)";
  }
}

/** Whether `pid` is alive and still runs `binary` (pids are reused, so a bare `kill -0` is not enough). */
export function pidRuns(pid: number, binary: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes(binary);
  } catch {
    return false;
  }
}
