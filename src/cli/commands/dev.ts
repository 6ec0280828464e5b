/**
 * `converge dev`: a local control plane (started, or reused), and the operator run against it as `converge run`,
 * restarted whenever a file under src/ changes, until Ctrl-C.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type FSWatcher, watch } from "node:fs";
import { extname, join, sep } from "node:path";
import { Command } from "commander";
import { statusNamed, upNamed } from "../../cluster/named.ts";
import { milliseconds } from "../arguments.ts";
import { exists } from "../files.ts";
import { progress, shown } from "../output.ts";
import { type ProjectOptions, projectOptions, projectPaths } from "../project-options.ts";

/** Editor droppings that are not worth a restart. */
const ignoredChange = (file: string): boolean => {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.startsWith(".") || base.endsWith("~") || /\.(swp|swx|tmp)$/.test(base) || /^\d+$/.test(base);
};

export function devCommand(): Command {
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

    // The CLI's entry point: main.ts in the repository, main.js in the package.
    const main = join(import.meta.dirname, "..", `main${extname(import.meta.filename)}`);
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
