/**
 * The project commands of `converge`: `init` and `create api` scaffold, `generate` writes what the operator
 * definition implies, `install`/`uninstall` manage its CRDs, `run` runs it from source, `dev` runs it against a
 * local plane and restarts it on every change, `build` bundles it into JavaScript for its image.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type Dirent, type FSWatcher, watch } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { Client } from "../client/client.ts";
import { isNotFound } from "../client/errors.ts";
import { statusNamed, upNamed } from "../cluster/named.ts";
import { buildOperator, runtimeNodeFlags } from "../generate/build.ts";
import { generators } from "../generate/index.ts";
import { loadOperator, runGenerate } from "../generate/run.ts";
import { installCrds, type OperatorDefinition, runOperator } from "../operator/operator.ts";
import { CustomResourceDefinition } from "../types/generated/apiextensions.v1.ts";
import { packageVersion } from "./package.ts";
import {
  addToOperator,
  controllerSource,
  definitionSource,
  registration,
  sampleYaml,
  unitTestSource,
} from "./templates/kind.ts";
import { type KindNames, kindNames, kindProblem, projectNameProblem } from "./templates/names.ts";
import { projectFiles } from "./templates/project.ts";

const defaultOperator = "src/operator.ts";

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** A path for messages: relative to the working directory when it is inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") || rel.startsWith(sep) ? path : rel;
}

/** `./x` style import specifier from one file to another (POSIX separators). */
function importPath(from: string, to: string): string {
  const rel = relative(dirname(from), to).split(sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function writeNew(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content, { flag: "wx" });
  }
}

interface ProjectOptions {
  dir?: string;
  operator: string;
}

const projectOptions = (cmd: Command): Command =>
  cmd
    .option("-d, --dir <path>", "the project folder (default: the current directory)")
    .option("--operator <file>", "the operator module, relative to the project folder", defaultOperator);

function projectPaths(opts: ProjectOptions): { dir: string; operator: string } {
  const dir = resolve(opts.dir ?? ".");
  return { dir, operator: resolve(dir, opts.operator) };
}

interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
}

const clusterOptions = (cmd: Command): Command =>
  cmd
    .option("--kubeconfig <path>", "kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context (default: the current one)");

function connection(opts: ClusterOptions): { kubeconfig?: string; context?: string } {
  return {
    ...(opts.kubeconfig !== undefined ? { kubeconfig: resolve(opts.kubeconfig) } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  };
}

function clusterName(opts: ClusterOptions): string {
  const file = opts.kubeconfig ?? (process.env.KUBECONFIG?.split(":")[0] || "~/.kube/config");
  return `the cluster of ${file}${opts.context ? ` (context ${opts.context})` : ""}`;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds");
  return n;
}

function milliseconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number of milliseconds");
  return n;
}

export function projectCommands(): Command[] {
  const commands = [
    initCommand(),
    createCommand(),
    generateCommand(),
    installCommand(),
    uninstallCommand(),
    runCommand(),
    devCommand(),
    buildCommand(),
  ];
  const helpful = (c: Command): void => {
    c.showHelpAfterError();
    for (const sub of c.commands) helpful(sub);
  };
  for (const c of commands) helpful(c);
  return commands;
}

// --- init ---------------------------------------------------------------------------------------------------

/**
 * The `converge-sdk` dependency of a new project as package.json takes it. Paths (a tarball, a checkout) become
 * absolute `file:` specs, since the project's package.json is not in the folder they are relative to.
 */
function convergeSpec(spec: string): string {
  if (spec.startsWith("file:")) return `file:${resolve(spec.slice("file:".length))}`;
  if (spec.startsWith(".") || isAbsolute(spec) || /\.(tgz|tar\.gz|tar)$/.test(spec)) return `file:${resolve(spec)}`;
  return spec;
}

function initCommand(): Command {
  return new Command("init")
    .description("scaffold a new operator project: a custom resource, its controller, tests and npm scripts")
    .argument("<name>", "project and operator name, a DNS label (e.g. memcached-operator)")
    .option("-d, --dir <path>", "folder to create the project in; must be new or empty (default: ./<name>)")
    .option("--group <group>", "API group of the first kind", "example.com")
    .option("--kind <kind>", "the first kind (UpperCamelCase)", "Sample")
    .option("--version <version>", "version of the first kind", "v1alpha1")
    .option(
      "--converge <spec>",
      "the converge-sdk dependency: a version or range, or a path to a packed tarball or a checkout",
      `^${packageVersion}`,
    )
    .action(
      async (
        name: string,
        opts: { dir?: string; group: string; kind: string; version: string; converge: string },
      ): Promise<void> => {
        const problem = projectNameProblem(name) ?? kindProblem(opts);
        if (problem) throw new Error(problem);
        const dir = resolve(opts.dir ?? name);
        const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") return [];
          if (err.code === "ENOTDIR") throw new Error(`${shown(dir)} exists and is not a folder`);
          throw err;
        });
        if (entries.length > 0) throw new Error(`${shown(dir)} is not empty: choose a new folder with --dir`);
        const files = projectFiles({ name, kind: kindNames(opts), convergeSpec: convergeSpec(opts.converge) });
        await writeNew(dir, files);
        for (const path of Object.keys(files).sort()) out(`created ${shown(join(dir, path))}`);
        const cd = shown(dir);
        out(
          `\nproject "${name}" is ready. Next:\n\n` +
            `  cd ${cd.includes(" ") ? JSON.stringify(cd) : cd}\n` +
            "  npm install\n" +
            "  npm run generate     # writes config/crd/ from src/api.ts\n" +
            "  npm test             # unit tests, and end-to-end tests on a local control plane\n" +
            "  npx converge dev     # runs the operator on a local plane, restarting it on every change\n",
        );
      },
    );
}

// --- create api ---------------------------------------------------------------------------------------------

async function* tsFiles(dir: string): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory() && e.name !== "node_modules") yield* tsFiles(path);
    else if (e.isFile() && e.name.endsWith(".ts")) yield path;
  }
}

/** A source file under src/ that already defines this group and kind, if any. */
async function existingDefinition(dir: string, k: KindNames): Promise<string | undefined> {
  for await (const file of tsFiles(join(dir, "src"))) {
    const text = await readFile(file, "utf8");
    if (text.includes(`kind: "${k.kind}"`) && text.includes(`group: "${k.group}"`)) return file;
  }
  return undefined;
}

function createCommand(): Command {
  const create = new Command("create").description("add to an operator project").showHelpAfterError();
  create.addCommand(
    projectOptions(
      new Command("api")
        .description("add a kind: its definition, a controller, a unit test and a sample, registered in the operator")
        .requiredOption("--group <group>", "API group (e.g. cache.example.com)")
        .option("--version <version>", "version", "v1alpha1")
        .requiredOption("--kind <kind>", "kind, UpperCamelCase (e.g. Memcached)"),
    ).action(async (opts: ProjectOptions & { group: string; version: string; kind: string }) => {
      const problem = kindProblem(opts);
      if (problem) throw new Error(problem);
      const { dir, operator } = projectPaths(opts);
      if (!(await exists(join(dir, "package.json")))) {
        throw new Error(
          `no package.json in ${shown(dir)}: run this in a project made by \`converge init\` (or use --dir)`,
        );
      }
      const k = kindNames(opts);
      const defined = await existingDefinition(dir, k);
      if (defined) throw new Error(`${k.kind} (${k.group}) is already defined in ${shown(defined)}`);
      const api = join(dir, "src", "api", `${k.lower}.ts`);
      const ctrl = join(dir, "src", "controllers", `${k.lower}.ts`);
      const test = join(dir, "test", `${k.lower}.test.ts`);
      const files: Record<string, string> = {
        [relative(dir, api)]: definitionSource(k),
        [relative(dir, ctrl)]: controllerSource(k, importPath(ctrl, api)),
        [relative(dir, test)]: unitTestSource(k, { api: importPath(test, api), controller: importPath(test, ctrl) }),
        [join("config", "samples", `${k.lower}.yaml`)]: sampleYaml(k),
      };
      const taken: string[] = [];
      for (const path of Object.keys(files)) if (await exists(join(dir, path))) taken.push(path);
      if (taken.length > 0) throw new Error(`these files already exist: ${taken.join(", ")}`);
      await writeNew(dir, files);
      for (const path of Object.keys(files)) out(`created ${shown(join(dir, path))}`);

      const lines = registration(k, { api: importPath(operator, api), controller: importPath(operator, ctrl) });
      const source = await readFile(operator, "utf8").catch(() => undefined);
      const updated = source === undefined ? undefined : addToOperator(source, lines);
      if (updated !== undefined) {
        await writeFile(operator, updated);
        out(`registered ${k.kind} and ${k.controllerFactory} in ${shown(operator)}`);
      } else {
        out(
          `\nregister the kind in ${shown(operator)} (no scaffold markers found there):\n\n` +
            `${lines.imports.map((l) => `  ${l}`).join("\n")}\n\n` +
            `  definitions: [..., ${k.kind}],\n  controllers: [..., ${k.controllerFactory}],`,
        );
      }
      out(
        `\nnext: npm run generate (writes config/crd/${k.group}_${k.plural}.yaml), then npm test\n` +
          `edit the spec in ${shown(api)} and the children in ${shown(ctrl)}`,
      );
    }),
  );
  return create;
}

// --- generate -----------------------------------------------------------------------------------------------

function generateCommand(): Command {
  return projectOptions(
    new Command("generate")
      .description(
        "write the files the operator definition implies (CRDs under config/crd/, ...), only those that changed; " +
          "generated files no longer produced are removed",
      )
      .option("--check", "write nothing; fail listing the files that are missing, stale or obsolete"),
  ).action(async (opts: ProjectOptions & { check?: boolean }) => {
    const { dir, operator } = projectPaths(opts);
    const op = await loadOperator(operator);
    const report = await runGenerate(dir, op, generators, { check: opts.check ?? false });
    const total = report.changes.filter((c) => c.state !== "removed").length;
    const files = (n: number) => `${n} generated file${n === 1 ? "" : "s"}`;
    if (opts.check) {
      if (report.outOfDate.length > 0) {
        const label = { created: "missing ", updated: "stale   ", removed: "obsolete", unchanged: "" } as const;
        throw new Error(
          `${files(report.outOfDate.length)} out of date; run \`converge generate\`:\n` +
            report.outOfDate.map((c) => `  ${label[c.state]} ${c.path}`).join("\n"),
        );
      }
      out(`${files(total)} up to date`);
      return;
    }
    if (!report.wrote) {
      out(`nothing to write: ${files(total)} up to date`);
      return;
    }
    for (const c of report.outOfDate) {
      out(c.state === "removed" ? `removed ${c.path} (no longer generated)` : `wrote ${c.path}`);
    }
    const removed = report.outOfDate.filter((c) => c.state === "removed").length;
    const written = report.outOfDate.length - removed;
    out(`${written} written${removed ? `, ${removed} removed` : ""}, ${total - written} unchanged`);
  });
}

// --- install / uninstall ------------------------------------------------------------------------------------

async function withClient<T>(
  op: OperatorDefinition,
  opts: ClusterOptions,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await Client.connect({ ...connection(opts), fieldManager: op.name });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

function installCommand(): Command {
  return clusterOptions(
    projectOptions(
      new Command("install")
        .description("apply the operator's CRDs to the current cluster (KUBECONFIG) and wait until they are served")
        .option("--timeout <seconds>", "how long to wait for the CRDs to be established", seconds, 60),
    ),
  ).action(async (opts: ProjectOptions & ClusterOptions & { timeout: number }) => {
    const op = await loadOperator(projectPaths(opts).operator);
    if (op.definitions.length === 0) {
      out(`${op.name} defines no custom resources: nothing to install`);
      return;
    }
    progress(`installing ${op.definitions.length} CRD(s) of ${op.name} into ${clusterName(opts)}`);
    const names = await withClient(op, opts, (client) => installCrds(client, op, opts.timeout * 1000));
    for (const name of names) out(`installed CRD ${name}`);
  });
}

function uninstallCommand(): Command {
  return clusterOptions(
    projectOptions(
      new Command("uninstall")
        .description("delete the operator's CRDs, and with them every object of their kinds, and wait until gone")
        .option("--timeout <seconds>", "how long to wait for the CRDs to be gone", seconds, 60),
    ),
  ).action(async (opts: ProjectOptions & ClusterOptions & { timeout: number }) => {
    const op = await loadOperator(projectPaths(opts).operator);
    if (op.definitions.length === 0) {
      out(`${op.name} defines no custom resources: nothing to uninstall`);
      return;
    }
    const names = op.definitions.map((d) => d.crd().metadata?.name ?? "");
    await withClient(op, opts, async (client) => {
      const deleting: string[] = [];
      for (const name of names) {
        try {
          await client.delete(CustomResourceDefinition, name);
          deleting.push(name);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          out(`CRD ${name} is not installed`);
        }
      }
      if (deleting.length === 0) return;
      progress(`waiting for ${deleting.length} CRD(s) to be deleted (the objects of their kinds go with them)`);
      const deadline = Date.now() + opts.timeout * 1000;
      for (const name of deleting) {
        for (;;) {
          const gone = await client.get(CustomResourceDefinition, name).then(() => false, isNotFound);
          if (gone) break;
          if (Date.now() > deadline) {
            throw new Error(
              `CRD ${name} is still being deleted after ${opts.timeout} s: objects of its kind may carry finalizers ` +
                `that no running operator removes (kubectl get ${name} --all-namespaces)`,
            );
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        out(`deleted CRD ${name}`);
      }
    });
  });
}

// --- run ----------------------------------------------------------------------------------------------------

function runCommand(): Command {
  return clusterOptions(
    projectOptions(
      new Command("run")
        .description("install the CRDs and run the operator from source against the current cluster until Ctrl-C")
        .option("-n, --namespace <namespace>", "watch one namespace only (default: all)")
        .option(
          "--metrics-address <host:port>",
          "serve Prometheus /metrics here (default: CONVERGE_METRICS_ADDRESS, else off)",
        )
        .option(
          "--probe-address <host:port>",
          "serve /healthz and /readyz here (default: CONVERGE_PROBE_ADDRESS, else off)",
        ),
    ),
  ).action(
    async (
      opts: ProjectOptions & ClusterOptions & { namespace?: string; metricsAddress?: string; probeAddress?: string },
    ) => {
      const op = await loadOperator(projectPaths(opts).operator);
      progress(`running ${op.name} against ${clusterName(opts)} (Ctrl-C stops it)`);
      await runOperator(op, {
        installCrds: true,
        connection: connection(opts),
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(opts.metricsAddress !== undefined ? { metricsAddress: opts.metricsAddress } : {}),
        ...(opts.probeAddress !== undefined ? { probeAddress: opts.probeAddress } : {}),
      });
      progress(`${op.name} stopped`);
    },
  );
}

// --- build --------------------------------------------------------------------------------------------------

function buildCommand(): Command {
  return new Command("build")
    .description(
      "bundle the operator's entry point, Converge and Converge's packages into plain JavaScript for its image " +
        "(what the generated Dockerfile runs); the packages the project declares stay in node_modules",
    )
    .option("-d, --dir <path>", "the project folder (default: the current directory)")
    .option("--entry <file>", "the entry point, relative to the project folder", "src/main.ts")
    .option("--out-dir <dir>", "where the bundle goes, relative to the project folder", "dist")
    .action(async (opts: { dir?: string; entry: string; outDir: string }) => {
      const dir = resolve(opts.dir ?? ".");
      progress(`bundling ${opts.entry} into ${opts.outDir}/`);
      const result = await buildOperator({ dir, entry: opts.entry, outDir: opts.outDir });
      for (const f of result.files) out(`  ${shown(resolve(dir, f.path))}  ${(f.bytes / 1024).toFixed(0)} KiB`);
      out(`loaded from node_modules: ${result.external.join(", ") || "nothing"}`);
      out(`run it with: node ${runtimeNodeFlags.join(" ")} ${shown(result.outFile)}`);
      progress(`built in ${(result.milliseconds / 1000).toFixed(1)} s`);
    });
}

// --- dev ----------------------------------------------------------------------------------------------------

/** Editor droppings that are not worth a restart. */
const ignoredChange = (file: string): boolean => {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.startsWith(".") || base.endsWith("~") || /\.(swp|swx|tmp)$/.test(base) || /^\d+$/.test(base);
};

function devCommand(): Command {
  return projectOptions(
    new Command("dev")
      .description(
        "start (or reuse) a local control plane and run the operator against it, restarting it when a file under " +
          "src/ changes, until Ctrl-C (the plane keeps running)",
      )
      .option("-n, --name <name>", "name of the local plane", "dev")
      .option(
        "--minimal",
        "when starting the plane: only etcd and kube-apiserver (faster, but no pods and no garbage collection)",
      )
      .option("--debounce <ms>", "wait this long after a change before restarting", milliseconds, 300),
  ).action(async (opts: ProjectOptions & { name: string; minimal?: boolean; debounce: number }) => {
    const { dir, operator } = projectPaths(opts);
    if (!(await exists(operator))) {
      throw new Error(`${shown(operator)} not found: run this in the project folder, or use --dir and --operator`);
    }
    const src = join(dir, "src");

    const status = await statusNamed(opts.name);
    let kubeconfig: string;
    const healthy =
      status.state !== undefined &&
      status.supervisor?.running === true &&
      status.components.length > 0 &&
      status.components.every((c) => c.health === "ok");
    if (healthy && status.state) {
      kubeconfig = status.state.kubeconfig;
      progress(`reusing control plane "${opts.name}" at ${status.state.server}`);
    } else {
      progress(`starting control plane "${opts.name}"`);
      const up = await upNamed(opts.name, {
        mode: opts.minimal ? "minimal" : "full",
        binaries: { build: true, log: progress },
        log: progress,
      });
      kubeconfig = up.kubeconfig;
      progress(`control plane "${opts.name}" is ready at ${up.server} (${up.seconds.toFixed(1)}s)`);
    }

    // main.ts in the repository, main.js in the package.
    const main = join(import.meta.dirname, `main${extname(import.meta.filename)}`);
    const args = [...process.execArgv, main, "run", "--dir", dir, "--operator", opts.operator];
    let child: ChildProcess | undefined;
    let stopping = false;

    const start = (): void => {
      const c = spawn(process.execPath, args, { stdio: "inherit", env: { ...process.env, KUBECONFIG: kubeconfig } });
      child = c;
      c.once("exit", (code, signal) => {
        if (child !== c) return; // stopped on purpose
        child = undefined;
        if (!stopping) {
          progress(`the operator exited (${signal ?? `code ${code}`}); it starts again when a file under src/ changes`);
        }
      });
    };

    const stop = async (): Promise<void> => {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once("exit", () => r()));
      c.kill("SIGTERM");
      const kill = setTimeout(() => c.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(kill);
    };

    let timer: NodeJS.Timeout | undefined;
    let changed = new Set<string>();
    let restarting: Promise<void> = Promise.resolve();
    const restart = async (): Promise<void> => {
      const files = [...changed].sort();
      changed = new Set();
      if (stopping) return;
      progress(`changed: ${files.map((f) => `src/${f}`).join(", ")}; restarting the operator`);
      await stop();
      if (!stopping) start();
    };
    let watcher: FSWatcher;
    try {
      watcher = watch(src, { recursive: true }, (_event, file) => {
        const name = typeof file === "string" ? file.split(sep).join("/") : "";
        if (!name || ignoredChange(name)) return;
        changed.add(name);
        clearTimeout(timer);
        timer = setTimeout(() => {
          restarting = restarting.then(restart);
        }, opts.debounce);
      });
    } catch (err) {
      throw new Error(`cannot watch ${shown(src)}: ${(err as Error).message}`);
    }

    progress(`running the operator against "${opts.name}"; watching ${shown(src)} (Ctrl-C stops)`);
    start();
    await new Promise<void>((r) => {
      process.once("SIGINT", () => r());
      process.once("SIGTERM", () => r());
    });
    stopping = true;
    clearTimeout(timer);
    watcher.close();
    await restarting;
    await stop();
    const down = `converge cluster down${opts.name === "default" ? "" : ` --name ${opts.name}`}`;
    progress(
      `stopped the operator. The control plane "${opts.name}" is still running:\n` +
        `  export KUBECONFIG=${kubeconfig}\n  stop it with: ${down}`,
    );
  });
}
