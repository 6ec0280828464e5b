/**
 * Runs one peer operator as the contract says (bench/README.md): a plain process with KUBECONFIG,
 * BENCH_NAMESPACE, BENCH_WORKERS and optionally BENCH_RESYNC_SECONDS, pinned to its CPUs where `taskset` exists,
 * its stderr kept in a log file, sampled from /proc while it runs, and stopped with SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { TreeSampler } from "./proc.ts";

/** How a peer is started (the shape of `PeerCommand` in bench/peers/index.ts). */
export interface Command {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export interface PeerRunOptions {
  kubeconfig: string;
  namespace: string;
  workers: number;
  resyncSeconds?: number;
  /** `taskset -c` CPU list, e.g. "1"; undefined runs unpinned. */
  cpus: string | undefined;
  /** Where the peer's stderr goes. */
  logFile: string;
  /** The repository root: the peer's working directory. */
  cwd: string;
}

/** How a peer's process ended after SIGTERM. */
export interface StopResult {
  /** Exit code, or the signal that killed it. */
  exit: string;
  /** Seconds from SIGTERM to exit. */
  seconds: number;
  /** Bytes the peer wrote to stdout (the contract says none). */
  stdoutBytes: number;
}

const stopGraceMs = 5_000;
const killAfterMs = 10_000;

export class PeerProcess {
  readonly sampler: TreeSampler;
  /** performance.now() at spawn. */
  readonly spawnedAt: number;
  private readonly child: ChildProcess;
  private readonly log: WriteStream;
  private stdoutBytes = 0;
  private readonly exited: Promise<string>;
  private exitedWith: string | undefined;

  constructor(cmd: Command, opts: PeerRunOptions) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...cmd.env,
      KUBECONFIG: opts.kubeconfig,
      BENCH_NAMESPACE: opts.namespace,
      BENCH_WORKERS: String(opts.workers),
    };
    if (opts.resyncSeconds) env.BENCH_RESYNC_SECONDS = String(opts.resyncSeconds);
    else delete env.BENCH_RESYNC_SECONDS;
    // taskset execs the command: the pid stays the operator's.
    const [command, args] = opts.cpus
      ? ["taskset", ["-c", opts.cpus, cmd.command, ...cmd.args]]
      : [cmd.command, cmd.args];
    this.log = createWriteStream(opts.logFile, { flags: "a" });
    this.spawnedAt = performance.now();
    this.child = spawn(command as string, args as string[], { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (chunk: Buffer) => {
      this.stdoutBytes += chunk.length;
    });
    this.child.stderr?.pipe(this.log);
    this.exited = new Promise((resolve) => {
      this.child.on("error", (err) => resolve(`failed to start: ${err.message}`));
      this.child.on("exit", (code, signal) => resolve(signal ?? `code ${code}`));
    });
    if (this.child.pid === undefined) throw new Error(`cannot start ${cmd.command}`);
    this.sampler = new TreeSampler(this.child.pid);
    void this.exited.then((how) => {
      this.exitedWith = how;
      this.sampler.stop();
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Set once the process has exited (before stop(), that is a failure). */
  get exit(): string | undefined {
    return this.exitedWith;
  }

  /** SIGTERM; SIGKILL when it has not exited after 10 s. */
  async stop(): Promise<StopResult> {
    const started = performance.now();
    if (this.exitedWith === undefined) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), killAfterMs);
    const exit = await this.exited;
    clearTimeout(timer);
    const seconds = (performance.now() - started) / 1000;
    await new Promise<void>((r) => this.log.end(r));
    return {
      exit: seconds > stopGraceMs / 1000 ? `${exit} after ${seconds.toFixed(1)} s` : exit,
      seconds,
      stdoutBytes: this.stdoutBytes,
    };
  }
}
