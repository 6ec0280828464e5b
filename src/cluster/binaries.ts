import { constants } from "node:fs";
import { access, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { cacheRoot } from "./paths.ts";
import { CommandError, indent, run } from "./run.ts";
import { stagingVersion, versions } from "./versions.ts";

export type BinaryName =
  | "etcd"
  | "kube-apiserver"
  | "kube-controller-manager"
  | "kube-scheduler"
  | "kwok"
  | "kubectl"
  | "helm";

export const kubernetesBinaries = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** Where one binary was found. */
export interface ResolvedBinary {
  path: string;
  /** `assets` = KUBEBUILDER_ASSETS, `cache` = built by Converge before, `path` = found on PATH, `built` = just built. */
  source: "assets" | "cache" | "path" | "built";
}

export type ResolvedBinaries = Partial<Record<BinaryName, ResolvedBinary>>;

/** Files kwok needs besides its binary, taken from the kwok module at build time. */
export interface KwokAssets {
  /** Stage configuration: fast node initialisation, lease heartbeats, pod ready/complete/delete, volumes. */
  stages: string;
  /** The default StorageClass `kwok-volume` that kwok's volume stages provision for. */
  storageClass: string;
}

export interface BinaryOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress lines (which binary, elapsed time). Defaults to stderr. */
  log?: (line: string) => void;
  /** Build what is missing (default true). When false, a missing binary is an error naming the fix. */
  build?: boolean;
  /** Accept a kubectl found on PATH (default true); false builds one matching the pinned version. */
  kubectlFromPath?: boolean;
}

const stderrLog = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * The cache keeps every binary of one pinned set in one folder, in the setup-envtest layout, so that
 * `KUBEBUILDER_ASSETS=<that folder>` also serves controller-runtime's envtest. `versions.json` records which
 * version each binary was built at; a binary whose recorded version differs from versions.ts is rebuilt.
 */
export function cacheDirs(env: NodeJS.ProcessEnv = process.env) {
  const root = cacheRoot(env);
  return {
    root,
    assets: join(root, "k8s", `v${versions.kubernetes}`),
    build: join(root, "build"),
  };
}

function expectedVersion(name: BinaryName): string {
  if (name === "etcd") return versions.etcd;
  if (name === "kwok") return versions.kwok;
  if (name === "helm") return versions.helm;
  return versions.kubernetes;
}

type Manifest = Partial<Record<BinaryName | "kwok-stages", string>>;

async function readManifest(env: NodeJS.ProcessEnv): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(join(cacheDirs(env).assets, "versions.json"), "utf8")) as Manifest;
  } catch {
    return {};
  }
}

/** Records a finished artifact; called only after the artifact was renamed into place. */
async function recordBuilt(env: NodeJS.ProcessEnv, entry: BinaryName | "kwok-stages", version: string): Promise<void> {
  const manifest = await readManifest(env);
  manifest[entry] = version;
  await writeAtomic(join(cacheDirs(env).assets, "versions.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

/** Finds a binary without building: KUBEBUILDER_ASSETS, then Converge's cache, then (kubectl only) PATH. */
export async function findBinary(
  name: BinaryName,
  env: NodeJS.ProcessEnv = process.env,
  kubectlFromPath = true,
): Promise<ResolvedBinary | undefined> {
  if (env.KUBEBUILDER_ASSETS) {
    const p = join(env.KUBEBUILDER_ASSETS, name);
    if (await isExecutable(p)) return { path: p, source: "assets" };
  }
  const cached = join(cacheDirs(env).assets, name);
  if ((await readManifest(env))[name] === expectedVersion(name) && (await isExecutable(cached))) {
    return { path: cached, source: "cache" };
  }
  if (name === "kubectl" && kubectlFromPath) {
    const p = await onPath("kubectl", env);
    if (p) return { path: p, source: "path" };
  }
  return undefined;
}

/** Finds the kwok stage files written next to the kwok binary at build time. */
export async function findKwokAssets(env: NodeJS.ProcessEnv = process.env): Promise<KwokAssets | undefined> {
  if ((await readManifest(env))["kwok-stages"] !== versions.kwok) return undefined;
  const dir = cacheDirs(env).assets;
  const assets = { stages: join(dir, "kwok-stages.yaml"), storageClass: join(dir, "kwok-storage-class.yaml") };
  try {
    await access(assets.stages);
    await access(assets.storageClass);
    return assets;
  } catch {
    return undefined;
  }
}

/**
 * Resolves every binary in `names`, building the missing ones from Go modules unless `build` is false.
 * A build writes to `<name>.partial` and renames into place, so an interrupted build never leaves a binary
 * that looks complete; the next run resumes with Go's module and build caches warm.
 */
export async function ensureBinaries(
  names: readonly BinaryName[],
  options: BinaryOptions = {},
): Promise<ResolvedBinaries> {
  const env = options.env ?? process.env;
  const log = options.log ?? stderrLog;
  const found: ResolvedBinaries = {};
  const missing: BinaryName[] = [];
  for (const name of names) {
    const r = await findBinary(name, env, options.kubectlFromPath);
    if (r) found[name] = r;
    else missing.push(name);
  }
  const needKwokAssets = names.includes("kwok") && !(await findKwokAssets(env));
  if (missing.length === 0 && !needKwokAssets) return found;
  if (options.build === false) {
    const what = [...missing, ...(needKwokAssets && !missing.includes("kwok") ? ["kwok stage files"] : [])];
    throw new Error(
      `missing Kubernetes binaries: ${what.join(", ")}.\n` +
        `  Build them once with \`npx converge cluster binaries\` (about 8 minutes cold), or point ` +
        `KUBEBUILDER_ASSETS at a folder that holds them.`,
    );
  }
  const builder = new Builder(env, log);
  await builder.checkGo();
  await withBuildLock(env, log, async () => {
    // Another process may have finished the same build while we waited for the lock.
    const still: BinaryName[] = [];
    for (const name of missing) if (!(await findBinary(name, env, options.kubectlFromPath))) still.push(name);
    const k8sMissing = still.filter((n) => n !== "etcd" && n !== "kwok" && n !== "helm");
    if (k8sMissing.length > 0) await builder.buildKubernetes(k8sMissing);
    if (still.includes("etcd")) await builder.buildEtcd();
    if (still.includes("kwok") || (names.includes("kwok") && !(await findKwokAssets(env)))) {
      await builder.buildKwok(still.includes("kwok"));
    }
    if (still.includes("helm")) await builder.buildHelm();
  });
  for (const name of missing) {
    const r = await findBinary(name, env, options.kubectlFromPath);
    if (!r) throw new Error(`internal error: ${name} is still missing after its build`);
    found[name] = { path: r.path, source: "built" };
  }
  return found;
}

/** Runs the Go builds with progress output. Kept small: everything version-specific comes from versions.ts. */
class Builder {
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;
  private readonly dirs: ReturnType<typeof cacheDirs>;
  private readonly goEnv: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv, log: (line: string) => void) {
    this.env = env;
    this.log = log;
    this.dirs = cacheDirs(env);
    // Static binaries that do not depend on the machine's libc; -mod=mod lets `go build` settle go.sum itself.
    this.goEnv = { ...env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GOWORK: "off" };
  }

  /** The build folder of one component (kept between runs, so a build resumes) and its log, announced. */
  private async workspace(folder: string, what: string): Promise<{ work: string; logFile: string }> {
    const work = join(this.dirs.build, folder);
    const logFile = join(work, "build.log");
    await mkdir(work, { recursive: true });
    await mkdir(this.dirs.assets, { recursive: true });
    this.log(`${what} (log: ${logFile})`);
    return { work, logFile };
  }

  async checkGo(): Promise<void> {
    try {
      const { stdout } = await run("go", ["version"], { env: this.goEnv });
      this.log(`using ${stdout.trim()}`);
    } catch (err) {
      if (err instanceof CommandError && err.notFound) {
        throw new Error(
          "cannot build the Kubernetes binaries: the Go toolchain (`go`) is not on PATH.\n" +
            "  Install Go >= 1.26 (the module proxy must be reachable), or set KUBEBUILDER_ASSETS to a folder with " +
            "etcd, kube-apiserver (and kube-controller-manager, kube-scheduler, kwok for the full plane).",
        );
      }
      throw err;
    }
  }

  private async step<T>(label: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    this.log(`${label} ...`);
    const ticker = setInterval(() => this.log(`  ${label}: ${elapsed(started)}`), 15_000);
    try {
      const result = await work();
      this.log(`${label}: done in ${elapsed(started)}`);
      return result;
    } finally {
      clearInterval(ticker);
    }
  }

  private go(args: string[], cwd: string, logFile: string) {
    return run("go", args, { cwd, env: this.goEnv, logFile });
  }

  /** `go mod download -json`, with the module proxy named when it cannot be reached. */
  private async download(module: string, cwd: string, logFile: string): Promise<{ Dir: string; GoMod: string }> {
    try {
      const { stdout } = await this.go(["mod", "download", "-json", module], cwd, logFile);
      return JSON.parse(stdout) as { Dir: string; GoMod: string };
    } catch (err) {
      if (err instanceof CommandError) {
        const proxy = this.env.GOPROXY ? `GOPROXY=${this.env.GOPROXY}` : "the default GOPROXY";
        throw new Error(
          `could not download ${module} (${proxy}); is the Go module proxy reachable?\n${indent(err.tail)}`,
        );
      }
      throw err;
    }
  }

  private async buildInto(
    name: BinaryName,
    version: string,
    args: string[],
    cwd: string,
    logFile: string,
  ): Promise<void> {
    const dest = join(this.dirs.assets, name);
    const partial = `${dest}.partial`;
    await rm(partial, { force: true });
    await this.go(["build", "-trimpath", "-o", partial, ...args], cwd, logFile);
    await rename(partial, dest);
    await recordBuilt(this.env, name, version);
  }

  async buildKubernetes(names: readonly BinaryName[]): Promise<void> {
    const k8s = versions.kubernetes;
    const { work, logFile } = await this.workspace(
      `kubernetes-v${k8s}`,
      `building ${names.join(", ")} v${k8s} from k8s.io/kubernetes`,
    );
    // k8s.io/kubernetes replaces its staging modules with ./staging/... paths, so it cannot be built with
    // `go install pkg@version`; a wrapper module pins every staging module to its published v0.x version.
    const marker = join(work, ".module-ready");
    if (!(await exists(marker))) {
      await this.step("resolving modules", async () => {
        await writeFile(join(work, "go.mod"), "module local/converge-kubernetes\n\ngo 1.26.0\n");
        const { GoMod } = await this.download(`k8s.io/kubernetes@v${k8s}`, work, logFile);
        const staging = [...(await readFile(GoMod, "utf8")).matchAll(/^\s*(k8s\.io\/[a-z0-9-]+) => \.\/staging/gm)];
        const replaces = staging.map((m) => `-replace=${m[1]}=${m[1]}@${stagingVersion(k8s)}`);
        await this.go(["mod", "edit", ...replaces], work, logFile);
        const pkgs = [...kubernetesBinaries, "kubectl"].map((b) => `k8s.io/kubernetes/cmd/${b}@v${k8s}`);
        await this.go(["get", ...pkgs], work, logFile);
        await writeFile(marker, "");
      });
    }
    // Without the stamp `/version` reports v0.0.0, which confuses clients that check the server version.
    const minor = k8s.split(".")[1] ?? "";
    const stamp = (pkg: string) => [
      `-X ${pkg}.gitVersion=v${k8s}`,
      `-X ${pkg}.gitMajor=1`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ];
    const ldflags = ["-s", "-w", ...stamp("k8s.io/component-base/version"), ...stamp("k8s.io/client-go/pkg/version")];
    for (const name of names) {
      await this.step(`building ${name}`, () =>
        this.buildInto(name, k8s, ["-ldflags", ldflags.join(" "), `k8s.io/kubernetes/cmd/${name}`], work, logFile),
      );
    }
  }

  async buildEtcd(): Promise<void> {
    const v = versions.etcd;
    const { work, logFile } = await this.workspace(`etcd-v${v}`, `building etcd v${v} from go.etcd.io/etcd/server/v3`);
    const marker = join(work, ".module-ready");
    if (!(await exists(marker))) {
      await this.step("resolving modules", async () => {
        await writeFile(join(work, "go.mod"), "module local/converge-etcd\n\ngo 1.26.0\n");
        await this.download(`go.etcd.io/etcd/server/v3@v${v}`, work, logFile);
        await this.go(["get", `go.etcd.io/etcd/server/v3@v${v}`], work, logFile);
        await writeFile(marker, "");
      });
    }
    await this.step("building etcd", () =>
      this.buildInto("etcd", v, ["-ldflags", "-s -w", "go.etcd.io/etcd/server/v3"], work, logFile),
    );
  }

  async buildKwok(binary: boolean): Promise<void> {
    const v = versions.kwok;
    const { work, logFile } = await this.workspace(`kwok-v${v}`, `preparing kwok v${v} from sigs.k8s.io/kwok`);
    await writeFile(join(work, "go.mod"), "module local/converge-kwok\n\ngo 1.26.0\n");
    const { Dir } = await this.download(`sigs.k8s.io/kwok@v${v}`, work, logFile);
    if (binary) {
      const gobin = join(work, "bin");
      await rm(gobin, { recursive: true, force: true });
      await this.step("building kwok", async () => {
        await run("go", ["install", "-trimpath", "-ldflags", "-s -w", `sigs.k8s.io/kwok/cmd/kwok@v${v}`], {
          cwd: work,
          env: { ...this.goEnv, GOBIN: gobin, GOFLAGS: "" },
          logFile,
        });
        await rename(join(gobin, "kwok"), join(this.dirs.assets, "kwok"));
        await recordBuilt(this.env, "kwok", v);
      });
    }
    // The stage files ship in the kwok module; we take them from the version we built rather than keep copies.
    const stage = join(Dir, "kustomize", "stage");
    const stageFiles = [
      "node/fast/node-initialize.yaml",
      "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
      "pod/fast/pod-ready.yaml",
      "pod/fast/pod-complete.yaml",
      // Without pod-delete, pods that the garbage collector deletes stay Terminating forever.
      "pod/fast/pod-delete.yaml",
      "volume/fast/pv-bind.yaml",
      "volume/fast/pv-delete.yaml",
      "volume/fast/pvc-provision.yaml",
      "volume/fast/pvc-delete.yaml",
    ];
    const docs = await Promise.all(stageFiles.map((f) => readFile(join(stage, f), "utf8")));
    await writeAtomic(join(this.dirs.assets, "kwok-stages.yaml"), `${docs.map((d) => d.trim()).join("\n---\n")}\n`);
    await writeAtomic(
      join(this.dirs.assets, "kwok-storage-class.yaml"),
      await readFile(join(stage, "volume/fast/storage-class.yaml"), "utf8"),
    );
    await recordBuilt(this.env, "kwok-stages", v);
  }

  /**
   * helm, for charts only (no plane needs it). Stamped like a release build: its own version, and the pinned
   * Kubernetes version as the one `helm template` and `helm lint` assume (unstamped: v3.22 and Kubernetes 1.20).
   */
  async buildHelm(): Promise<void> {
    const v = versions.helm;
    const { work, logFile } = await this.workspace(`helm-v${v}`, `building helm v${v} from helm.sh/helm/v3`);
    const [major, minor] = versions.kubernetes.split(".");
    const ldflags = [
      "-s -w",
      `-X helm.sh/helm/v3/internal/version.version=v${v}`,
      ...["pkg/chartutil", "pkg/lint/rules"].flatMap((pkg) => [
        `-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=${major}`,
        `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${minor}`,
      ]),
    ];
    const gobin = join(work, "bin");
    await rm(gobin, { recursive: true, force: true });
    await this.step("building helm", async () => {
      await run("go", ["install", "-trimpath", "-ldflags", ldflags.join(" "), `helm.sh/helm/v3/cmd/helm@v${v}`], {
        cwd: work,
        env: { ...this.goEnv, GOBIN: gobin, GOFLAGS: "" },
        logFile,
      });
      await rename(join(gobin, "helm"), join(this.dirs.assets, "helm"));
      await recordBuilt(this.env, "helm", v);
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomic(path: string, content: string): Promise<void> {
  await writeFile(`${path}.partial`, content);
  await rename(`${path}.partial`, path);
}

export function elapsed(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/**
 * One build at a time per cache: parallel test processes or two terminals would otherwise race on the same
 * wrapper modules and output files. The lock file holds the owner's pid, so a lock left by a killed build is
 * taken over instead of waited on forever.
 */
async function withBuildLock<T>(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  work: () => Promise<T>,
): Promise<T> {
  const dir = cacheDirs(env).build;
  await mkdir(dir, { recursive: true });
  const lock = join(dir, ".lock");
  let announced = false;
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number.parseInt(await readFile(lock, "utf8").catch(() => ""), 10);
      if (!Number.isFinite(owner) || !alive(owner)) {
        await rm(lock, { force: true });
        continue;
      }
      if (!announced) log(`waiting for another build of the Kubernetes binaries (pid ${owner}) to finish`);
      announced = true;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
