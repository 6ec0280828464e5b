import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Append the command's output to this file (besides capturing its tail for errors). */
  logFile?: string;
}

export interface RunResult {
  stdout: string;
  /** The last lines of stdout+stderr, for error messages. */
  tail: string;
}

/** An external command that could not be started or exited non-zero; `tail` holds its last output lines. */
export class CommandError extends Error {
  readonly command: string;
  readonly exitCode: number | null;
  readonly tail: string;
  readonly notFound: boolean;
  constructor(command: string, exitCode: number | null, tail: string, notFound = false) {
    super(
      notFound
        ? `${command.split(" ")[0]} was not found on PATH`
        : `\`${command}\` failed (exit code ${exitCode})${tail ? `:\n${indent(tail)}` : ""}`,
    );
    this.name = "CommandError";
    this.command = command;
    this.exitCode = exitCode;
    this.tail = tail;
    this.notFound = notFound;
  }
}

export function indent(text: string, prefix = "    "): string {
  return text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
}

/** Keeps only the last `max` lines of what it is fed, so a chatty build never grows memory. */
export class LineTail {
  private lines: string[] = [];
  private partial = "";
  private readonly max: number;
  constructor(max = 25) {
    this.max = max;
  }
  push(chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    this.lines.push(...parts);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
  toString(): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.slice(-this.max).join("\n").trimEnd();
  }
}

/** Runs a command to completion; rejects with a CommandError carrying the tail of its output. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const display = [cmd, ...args].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail = new LineTail();
    const log = options.logFile ? createWriteStream(options.logFile, { flags: "a" }) : undefined;
    log?.write(`$ ${display}\n`);
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      tail.push(chunk);
      log?.write(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      tail.push(chunk);
      log?.write(chunk);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      log?.end();
      reject(new CommandError(display, null, err.message, err.code === "ENOENT"));
    });
    child.on("close", (code) => {
      log?.end();
      if (code === 0) resolve({ stdout, tail: tail.toString() });
      else reject(new CommandError(display, code, tail.toString()));
    });
  });
}
