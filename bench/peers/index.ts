/**
 * The benchmark's peer operators (controller-runtime, kopf, @kubernetes/client-node) and the limit (a trivial
 * client-go write loop), made ready to run: the Go programs built and the kopf virtualenv installed, each cached
 * under `<converge cache>/bench/` by a hash of its sources and toolchain, so that later runs start at once.
 * What each peer is and every setting that differs from its framework's defaults: bench/peers/README.md.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot } from "../../src/cluster/paths.ts";
import { CommandError, indent, run } from "../../src/cluster/run.ts";
import { buildOperator } from "../../src/generate/build.ts";

/** How to start a peer: the harness adds KUBECONFIG, BENCH_NAMESPACE, BENCH_WORKERS (and BENCH_RESYNC_SECONDS). */
export interface PeerCommand {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** A peer operator, ready to run. */
export interface Peer extends PeerCommand {
  /** "controller-runtime", "kopf" or "client-node". */
  name: string;
  /** The framework and the versions it runs with, e.g. "controller-runtime v0.25.2 (Go 1.26.8, client-go v0.37.2)". */
  description: string;
  /** Settings that differ from the framework's defaults, and why (printed in the report). */
  settings: string[];
}

export interface PrepareOptions {
  /** Where builds are cached (default `<converge cache>/bench`, see src/cluster/paths.ts). */
  cacheDir?: string;
  /** The environment of the build tools (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const here = import.meta.dirname;
const repoRoot = join(here, "..", "..");

/**
 * Builds or installs what is missing, reusing what a previous run left in the cache, with progress lines through
 * `log`. Throws an error naming the missing tool (go, python3 with venv) when one is not there.
 */
export async function preparePeers(
  log: (line: string) => void,
  options: PrepareOptions = {},
): Promise<{ peers: Peer[]; limit: PeerCommand }> {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? join(cacheRoot(env), "bench");
  await mkdir(cacheDir, { recursive: true });

  const go = await goVersion(env);
  const controllerRuntime = await buildGo("controller-runtime", go, { cacheDir, env, log });
  const limit = await buildGo("limit", go, { cacheDir, env, log });
  const kopf = await prepareKopf({ cacheDir, env, log });
  const clientNode = await clientNodePeer(log);
  const crModules = await goRequirements(join(here, "controller-runtime", "go.mod"));

  const peers: Peer[] = [
    {
      name: "controller-runtime",
      description:
        `controller-runtime ${crModules.get("sigs.k8s.io/controller-runtime")} ` +
        `(${go.replace(/^go/, "Go ")}, client-go ${crModules.get("k8s.io/client-go")})`,
      command: controllerRuntime,
      args: [],
      settings: [
        "MaxConcurrentReconciles = BENCH_WORKERS (default 1): the concurrency under test.",
        "Cache scoped to BENCH_NAMESPACE with cache.Options.DefaultNamespaces (default: all namespaces), like every peer.",
        "SyncPeriod = BENCH_RESYNC_SECONDS when set (default 10 h, kept when unset: no resync within a run).",
        'Metrics server off (BindAddress "0", default ":8080"): no peer serves metrics, and no port can clash.',
        "rest.Config QPS = -1, no client-side rate limiter: what ctrl.GetConfig() already returns; set explicitly so " +
          "that client-go's default limiter (5 QPS, burst 10) can never pace the run.",
        "Logger: zap at error level to stderr (default: nothing is logged until a logger is set).",
        "Reconcile drops AlreadyExists and Conflict errors (writes decided on a cache behind the server) instead of " +
          "returning them for a retry with backoff: the watch brings the newer object and another reconcile.",
      ],
    },
    {
      name: "kopf",
      description: `kopf ${kopf.versions.get("kopf")} (${kopf.python}, kubernetes client ${kopf.versions.get("kubernetes")})`,
      command: "/bin/sh",
      // `kopf run` takes the namespace as an option; the shell reads it from the environment the harness sets.
      args: [
        "-c",
        'exec "$0" -m kopf run --quiet --standalone --namespace "$BENCH_NAMESPACE" "$1"',
        kopf.pythonPath,
        join(here, "kopf", "operator.py"),
      ],
      settings: [
        "settings.execution.max_workers = BENCH_WORKERS (default min(32, CPUs + 4)): the handlers are synchronous, " +
          "so kopf's thread pool bounds the reconciles in flight.",
        "settings.queueing.worker_limit left unlimited (the default): with indexes, a limit below the number of " +
          "objects deadlocks the start (kopf issue #1243).",
        "--standalone: no peering (default: peering through KopfPeering objects when their CRD exists).",
        "--quiet: warnings and errors only (default: info, which logs every handler run).",
        "kubernetes client connection pool = max(CPUs * 5, BENCH_WORKERS) (default CPUs * 5), so threads never " +
          "open and drop extra connections.",
        "No periodic resync: kopf has none; BENCH_RESYNC_SECONDS is ignored.",
      ],
    },
    {
      name: "client-node",
      description: `@kubernetes/client-node ${clientNode.version} (Node ${process.versions.node})`,
      command: process.execPath,
      args: [clientNode.main],
      settings: [
        "Compiled to JavaScript (bundled with esbuild like the Converge peer, @kubernetes/client-node loaded from " +
          "node_modules) and run with Node's defaults: what a TypeScript project ships, without type stripping.",
        "BENCH_WORKERS workers over a hand-written work queue (client-node has no queue): one entry per key, one " +
          "reconcile in flight per key.",
        "BENCH_RESYNC_SECONDS queues every cached Bench again at that period (client-node's informers have no resync).",
        "Failed reconciles retried per key with backoff from 5 ms doubling to 1000 s (client-go's default); " +
          "409 and 404 answers are dropped, as the watch brings the newer state.",
        "Informers started again 1 s after a watch error (client-node's informer stops on one).",
      ],
    },
  ];
  return { peers, limit: { command: limit, args: [] } };
}

interface BuildContext {
  cacheDir: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

async function goVersion(env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run("go", ["env", "GOVERSION"], { env });
    return stdout.trim();
  } catch (err) {
    if (err instanceof CommandError && err.notFound) {
      throw new Error(
        "the Go toolchain (`go`) is not on PATH: the controller-runtime peer and the limit loop are built from Go " +
          "modules (bench/peers/controller-runtime, bench/peers/limit). Install Go >= 1.26 with the module proxy " +
          "reachable.",
      );
    }
    throw err;
  }
}

/** A short hash of files and strings: the cache key of one build. */
async function hashOf(files: readonly string[], extra: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(await readFile(file))
      .update("\0");
  for (const item of extra) hash.update(`${item}\0`);
  return hash.digest("hex").slice(0, 16);
}

/** Removes the cached builds of `name` other than `keep`, so that the cache does not grow with every change. */
async function pruneOld(cacheDir: string, name: string, keep: string): Promise<void> {
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith(`${name}-`) && entry !== keep && !entry.includes(".partial")) {
      await rm(join(cacheDir, entry), { recursive: true, force: true });
    }
  }
}

/** Seconds since `start`, for progress lines. */
function since(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)} s`;
}

/** Runs `work` with a progress line every 15 s. */
async function withTicker<T>(log: (line: string) => void, label: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const ticker = setInterval(() => log(`  ${label}: ${since(start)}`), 15_000);
  try {
    const result = await work();
    log(`  ${label}: done in ${since(start)}`);
    return result;
  } finally {
    clearInterval(ticker);
  }
}

/**
 * Builds a Go program of the repository (a folder with go.mod, go.sum and main.go, e.g. the chaos suite's
 * controller-runtime peer) into `<converge cache>/bench`, unless the same sources and toolchain were built before.
 */
export async function buildGoProgram(dir: string, name: string, log: (line: string) => void): Promise<string> {
  const env = process.env;
  const cacheDir = join(cacheRoot(env), "bench");
  await mkdir(cacheDir, { recursive: true });
  return buildGo(name, await goVersion(env), { cacheDir, env, log }, dir);
}

/** Builds bench/peers/<name> (a Go module) into the cache unless the same sources and toolchain were built before. */
async function buildGo(name: string, go: string, ctx: BuildContext, dir = join(here, name)): Promise<string> {
  const key = await hashOf(
    ["go.mod", "go.sum", "main.go"].map((f) => join(dir, f)),
    [go, ctx.env.GOOS ?? "", ctx.env.GOARCH ?? ""],
  );
  const binary = join(ctx.cacheDir, `${name}-${key}`);
  if (existsSync(binary)) {
    ctx.log(`${name}: cached build ${binary}`);
    return binary;
  }
  ctx.log(`${name}: building with ${go} (first time about 2 minutes on 2 cores; Go's caches make later builds fast)`);
  const partial = `${binary}.partial-${process.pid}`;
  // Static binaries; -mod=mod lets go.sum be completed if needed; GOWORK=off keeps any go.work out of the build.
  const env = { ...ctx.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GOWORK: "off" };
  try {
    await withTicker(ctx.log, `go build ${name}`, () =>
      run("go", ["build", "-trimpath", "-o", partial, "."], { cwd: dir, env }),
    );
    await rename(partial, binary);
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof CommandError) throw new Error(`building the ${name} peer failed:\n${indent(err.tail)}`);
    throw err;
  }
  await pruneOld(ctx.cacheDir, name, `${name}-${key}`);
  return binary;
}

/** The `require` versions of a go.mod. */
async function goRequirements(goMod: string): Promise<Map<string, string>> {
  const text = await readFile(goMod, "utf8");
  return new Map([...text.matchAll(/^\s*(?:require\s+)?([\w./-]+)\s+(v\S+)/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]));
}

interface KopfEnv {
  /** The virtualenv's python, which runs `-m kopf`. */
  pythonPath: string;
  /** "Python 3.11.7". */
  python: string;
  /** Pinned versions from requirements.txt. */
  versions: Map<string, string>;
}

/**
 * Installs bench/peers/kopf/requirements.txt into a virtualenv in the cache. It is made under a temporary name and
 * renamed when complete (it is run as `<venv>/bin/python -m kopf`, which does not depend on the venv's path).
 */
async function prepareKopf(ctx: BuildContext): Promise<KopfEnv> {
  const requirements = join(here, "kopf", "requirements.txt");
  let python: string;
  try {
    python = (await run("python3", ["--version"], { env: ctx.env })).stdout.trim();
  } catch (err) {
    if (err instanceof CommandError && err.notFound) {
      throw new Error("python3 is not on PATH: the kopf peer runs in a Python >= 3.10 virtualenv");
    }
    throw err;
  }
  const versions = new Map(
    [...(await readFile(requirements, "utf8")).matchAll(/^([\w.-]+)==(\S+)/gm)].map((m) => [
      (m[1] ?? "").toLowerCase(),
      m[2] ?? "",
    ]),
  );
  const key = await hashOf([requirements], [python]);
  const venv = join(ctx.cacheDir, `kopf-venv-${key}`);
  const result = { pythonPath: join(venv, "bin", "python"), python, versions };
  if (existsSync(result.pythonPath)) {
    ctx.log(`kopf: cached virtualenv ${venv}`);
    return result;
  }
  ctx.log(`kopf: installing ${requirements} into a virtualenv (${python})`);
  const partial = `${venv}.partial-${process.pid}`;
  try {
    await withTicker(ctx.log, "python3 -m venv", () => run("python3", ["-m", "venv", partial], { env: ctx.env }));
    await withTicker(ctx.log, "pip install", () =>
      run(
        join(partial, "bin", "python"),
        ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q", "-r", requirements],
        { env: ctx.env },
      ),
    );
    await rename(partial, venv);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    if (err instanceof CommandError) {
      throw new Error(
        `preparing the kopf peer failed (python3 with the venv module and a reachable PyPI are needed; on Debian: ` +
          `apt-get install python3-venv):\n${indent(err.tail)}`,
      );
    }
    throw err;
  }
  await pruneOld(ctx.cacheDir, "kopf-venv", `kopf-venv-${key}`);
  return result;
}

async function clientNodePeer(log: (line: string) => void): Promise<{ version: string; main: string }> {
  const pkg = join(repoRoot, "node_modules", "@kubernetes", "client-node", "package.json");
  const { version } = JSON.parse(await readFile(pkg, "utf8")) as { version: string };
  // Inside the repository, so that @kubernetes/client-node resolves from its node_modules.
  const built = await buildOperator({
    dir: repoRoot,
    entry: "bench/peers/client-node/operator.ts",
    outDir: "bench/.build/client-node",
    // What a client-node project declares, loaded from node_modules as such a project would.
    external: ["@kubernetes/client-node"],
  });
  log(`client-node: bundled in ${(built.milliseconds / 1000).toFixed(1)} s`);
  return { version, main: built.outFile };
}
