/**
 * An operator as its own process, the way `npm start` or a container runs it, for end-to-end tests: spawned with
 * the test plane's kubeconfig, its output collected, waited for (a line of output, or its `/readyz`), stopped with a
 * signal and its exit reported, and killed when the test is done with it (`await using`, or `kill()` in `t.after`).
 *
 * ```ts
 * const main = new URL("../src/main.ts", import.meta.url);
 * await using running = await spawnOperator(main, { kubeconfig: plane.kubeconfig });
 * await running.ready(); // its /readyz: CRDs installed, caches synced, controllers started
 * // ... create objects, wait for the operator's work ...
 * assert.equal((await running.stop()).code, 0, running.stderr); // SIGTERM: a graceful shutdown
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { freePorts } from "../cluster/ports.ts";

export interface SpawnOperatorOptions {
  /** The kubeconfig the operator connects with: its `KUBECONFIG`. */
  kubeconfig?: string;
  /**
   * Variables set for the operator on top of `baseEnv`; `undefined` removes one. `CONVERGE_LOG_LEVEL` is `warn`
   * unless one of them sets it: the collected output holds what goes wrong, not every reconcile.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** The environment `env` adds to (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Arguments after the entry point. */
  args?: readonly string[];
  /** Node's own flags, before the entry point. */
  nodeArgs?: readonly string[];
  /** Its working directory (default: this process's). */
  cwd?: string;
  /**
   * Serve `/healthz` and `/readyz` on a free port of 127.0.0.1 (`CONVERGE_PROBE_ADDRESS`, which `runOperator`
   * reads), for `ready()`. Default true; off when `env` sets `CONVERGE_PROBE_ADDRESS` itself.
   */
  probes?: boolean;
  /** Called with every whole line the operator writes, as it writes it. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Also write the operator's stderr to this process's stderr, as it comes (to watch it while a test runs). */
  echo?: boolean;
}

/** How the operator ended: its exit code, or the signal that ended it. */
export interface OperatorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface OperatorProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  /** Everything it has written to stdout so far. */
  readonly stdout: string;
  /** Everything it has written to stderr so far. */
  readonly stderr: string;
  /** `127.0.0.1:<port>` of its `/healthz` and `/readyz` when probes are on. */
  readonly probeAddress: string | undefined;
  /** Resolves when it has exited. */
  readonly exited: Promise<OperatorExit>;
  /** How it ended, once it has; undefined while it runs. */
  readonly exit: OperatorExit | undefined;
  /** Resolves once its output (stderr or stdout) has a match; rejects if it exits first, or after `timeoutMs`. */
  waitForOutput(match: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves once its `/readyz` answers 200; rejects if it exits first, or after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  /**
   * Sends `signal` (default SIGTERM, a graceful shutdown) and resolves with its exit; SIGKILL when it has not
   * exited after `timeoutMs` (default 30 s). An operator that has exited already gives its exit at once.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<OperatorExit>;
  /** SIGKILL, resolved with its exit; what `await using` does at the end of the scope. */
  kill(): Promise<OperatorExit>;
}

/** The last lines of some output, for error messages. */
function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split("\n");
  return all.length > lines ? `...\n${all.slice(-lines).join("\n")}` : all.join("\n");
}

/** The status code of a GET, or 0 when there is no answer. */
function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(0));
    req.end();
  });
}

/**
 * Starts `node <nodeArgs> <entry> <args>` (a `.ts` entry runs as Node runs it: types stripped) and resolves once it
 * has been spawned. Kill it when done: `await using`, or `t.after(() => operator.kill())`.
 */
export async function spawnOperator(entry: string | URL, options: SpawnOperatorOptions = {}): Promise<OperatorProcess> {
  const path = entry instanceof URL ? fileURLToPath(entry) : entry;
  const env: NodeJS.ProcessEnv = { CONVERGE_LOG_LEVEL: "warn", ...(options.baseEnv ?? process.env) };
  if (options.kubeconfig !== undefined) env.KUBECONFIG = options.kubeconfig;
  let probeAddress: string | undefined;
  if ((options.probes ?? true) && options.env?.CONVERGE_PROBE_ADDRESS === undefined) {
    const [port] = await freePorts(1);
    probeAddress = `127.0.0.1:${port}`;
    env.CONVERGE_PROBE_ADDRESS = probeAddress;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), path, ...(options.args ?? [])], {
    env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });

  const output = { stdout: "", stderr: "" };
  let exit: OperatorExit | undefined;
  const changed = new Set<() => void>();
  const notify = () => {
    for (const f of changed) f();
  };
  for (const stream of ["stdout", "stderr"] as const) {
    let partial = "";
    child[stream].setEncoding("utf8").on("data", (chunk: string) => {
      output[stream] += chunk;
      if (stream === "stderr" && options.echo) process.stderr.write(chunk);
      if (options.onLine) {
        partial += chunk;
        for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
          options.onLine(partial.slice(0, nl), stream);
          partial = partial.slice(nl + 1);
        }
      }
      notify();
    });
  }
  const exited = new Promise<OperatorExit>((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exit) return;
      exit = { code, signal };
      resolve(exit);
      notify();
    };
    child.once("exit", done);
    // Not started at all (the executable or the folder is missing): no exit event follows.
    child.once("error", (err) => {
      output.stderr += `${err.message}\n`;
      if (child.pid === undefined) done(null, null);
    });
  });
  const describe = () => `${path}${exit ? ` (exited: ${exit.signal ?? `code ${exit.code}`})` : ""}`;

  /** Resolves when `check` returns true, re-checked on output and on exit; fails on exit or timeout. */
  const until = (what: string, check: () => boolean, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const settle = (err?: Error) => {
        changed.delete(onChange);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const fail = (why: string) =>
        settle(new Error(`${describe()}: ${why} waiting for ${what}\n--- its stderr\n${tail(output.stderr)}`));
      const onChange = () => {
        if (check()) settle();
        else if (exit) fail("exited");
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      changed.add(onChange);
      onChange();
    });

  const handle: OperatorProcess = {
    child,
    get stdout() {
      return output.stdout;
    },
    get stderr() {
      return output.stderr;
    },
    probeAddress,
    exited,
    get exit() {
      return exit;
    },
    waitForOutput(match, timeoutMs = 60_000) {
      const found = () => {
        const text = output.stderr + output.stdout;
        return typeof match === "string" ? text.includes(match) : match.test(text);
      };
      return until(`output ${typeof match === "string" ? JSON.stringify(match) : match}`, found, timeoutMs);
    },
    async ready(timeoutMs = 60_000) {
      if (!probeAddress) throw new Error(`${path} serves no probes: spawn it with probes on to wait for /readyz`);
      const url = `http://${probeAddress}/readyz`;
      let isReady = false;
      let polling = true;
      const poll = (async () => {
        while (polling && !isReady && !exit) {
          isReady = (await status(url)) === 200;
          if (isReady) notify();
          else await new Promise((r) => setTimeout(r, 100));
        }
      })();
      try {
        await until(url, () => isReady, timeoutMs);
      } finally {
        polling = false;
        await poll;
      }
    },
    async stop(signal = "SIGTERM", timeoutMs = 30_000) {
      if (exit) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    kill() {
      return handle.stop("SIGKILL");
    },
    async [Symbol.asyncDispose]() {
      await handle.kill();
    },
  };
  return handle;
}
