/**
 * The limit: a trivial client-go loop (from bench/peers) that writes what a perfect operator writes, a ConfigMap
 * create and a status update per Bench, with no cache, queue or watch and no client-side rate limit. Run on the
 * same plane as the peers, on N Benches the load generator created (timed, like W2's creates).
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import type { LimitRun } from "./figures.ts";
import { createBenches } from "./load.ts";
import type { Command } from "./peer-process.ts";
import { type BenchContext, convergeTimeoutMs, emptyNamespace, ensureNamespace, loopOpts } from "./workloads.ts";

interface LimitOutput {
  objects: number;
  seconds: number;
  writes: number;
  errors: number;
}

export async function runLimit(ctx: BenchContext, cmd: Command, workers: number, n: number): Promise<LimitRun> {
  const ns = "limit";
  await ensureNamespace(ctx, ns);
  try {
    const createSeconds = await createBenches(ctx.client, ctx.ledger, ns, { first: 0, count: n }, loopOpts(ctx, n));
    await new Promise((r) => setTimeout(r, ctx.settleMs));
    const out = await runToEnd(ctx, cmd, ns, workers, convergeTimeoutMs(n));
    if (out.objects !== n) throw new Error(`the limit wrote ${out.objects} objects, expected ${n}`);
    ctx.log(`  limit: ${2 * n} writes in ${out.seconds.toFixed(2)} s (creates ${createSeconds.toFixed(2)} s)`);
    return { workers, createSeconds, writeSeconds: out.seconds, errors: out.errors };
  } finally {
    await emptyNamespace(ctx, ns);
  }
}

function runToEnd(
  ctx: BenchContext,
  cmd: Command,
  ns: string,
  workers: number,
  timeoutMs: number,
): Promise<LimitOutput> {
  const env = {
    ...process.env,
    ...cmd.env,
    KUBECONFIG: ctx.plane.kubeconfigPath,
    BENCH_NAMESPACE: ns,
    BENCH_WORKERS: String(workers),
  };
  const [command, args] = ctx.pin
    ? ["taskset", ["-c", ctx.pin.operator, cmd.command, ...cmd.args]]
    : [cmd.command, cmd.args];
  const child = spawn(command as string, args as string[], { cwd: ctx.root, env, stdio: ["ignore", "pipe", "pipe"] });
  const logFile = createWriteStream(join(ctx.logDir, "limit.log"), { flags: "a" });
  child.stderr.pipe(logFile);
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => reject(err));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0)
        return reject(new Error(`exited with ${signal ?? `code ${code}`} (see ${join(ctx.logDir, "limit.log")})`));
      try {
        resolve(JSON.parse(last) as LimitOutput);
      } catch {
        reject(new Error(`expected one JSON line on stdout, got "${last.slice(0, 200)}"`));
      }
    });
  });
}
