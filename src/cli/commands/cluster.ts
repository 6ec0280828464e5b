/** `converge cluster`: named local control planes, run in the background under a supervisor. */
import { readFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { type BinaryName, cacheDirs, ensureBinaries } from "../../cluster/binaries.ts";
import { downNamed, statusNamed, upNamed } from "../../cluster/named.ts";
import { planeDir } from "../../cluster/paths.ts";
import { readPlaneState } from "../../cluster/state.ts";
import { versions } from "../../cluster/versions.ts";
import { positiveInt } from "../arguments.ts";
import { progress } from "../output.ts";

const nameOption = () => new Option("-n, --name <name>", "name of the plane").default("default");

export function clusterCommand(): Command {
  const cluster = new Command("cluster").description(
    "run a real local Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver, controllers, kwok)",
  );

  cluster
    .command("up")
    .description("start a control plane in the background and write its kubeconfig")
    .addOption(nameOption())
    .option("--minimal", "run only etcd and kube-apiserver (the envtest shape, faster)")
    .option("-p, --port <port>", "kube-apiserver port on 127.0.0.1 (default: a free port)", positiveInt)
    .option("--nodes <count>", "number of fake kwok nodes", positiveInt, 1)
    .option("--no-build", "fail instead of building missing binaries")
    .action(async (opts: { name: string; minimal?: boolean; port?: number; nodes: number; build: boolean }) => {
      const result = await upNamed(opts.name, {
        mode: opts.minimal ? "minimal" : "full",
        nodes: opts.nodes,
        binaries: { build: opts.build, log: progress },
        log: progress,
        ...(opts.port !== undefined ? { apiserverPort: opts.port } : {}),
      });
      process.stdout.write(
        `control plane "${result.name}" is ready at ${result.server} (${result.seconds.toFixed(1)}s)\n` +
          `kubeconfig: ${result.kubeconfig}\n\n` +
          `  export KUBECONFIG=${result.kubeconfig}\n\n` +
          `stop it with: converge cluster down${result.name === "default" ? "" : ` --name ${result.name}`}\n`,
      );
    });

  cluster
    .command("down")
    .description("stop a control plane and remove its data")
    .addOption(nameOption())
    .option("--keep", "keep the data directory (etcd data, certificates, logs)")
    .action(async (opts: { name: string; keep?: boolean }) => {
      const result = await downNamed(opts.name, { keep: opts.keep ?? false });
      if (!result.found) {
        process.stdout.write(`no control plane named "${opts.name}" is running\n`);
        return;
      }
      if (result.killed.length > 0) process.stdout.write(`killed leftover processes: ${result.killed.join(", ")}\n`);
      process.stdout.write(
        `control plane "${opts.name}" stopped${result.removed ? " and its data removed" : `; data kept in ${planeDir(opts.name)}`}\n`,
      );
    });

  cluster
    .command("status")
    .description("show each component's pid, ports and health")
    .addOption(nameOption())
    .option("--json", "print machine-readable JSON")
    .action(async (opts: { name: string; json?: boolean }) => {
      const status = await statusNamed(opts.name);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      if (!status.state) {
        process.stdout.write(`no control plane named "${opts.name}" (looked in ${status.dir})\n`);
        process.exitCode = 1;
        return;
      }
      const rows = [["COMPONENT", "PID", "PORTS", "HEALTH"]];
      if (status.supervisor) {
        rows.push([
          "supervisor",
          String(status.supervisor.pid),
          "-",
          status.supervisor.running ? "running" : "stopped",
        ]);
      }
      for (const c of status.components) {
        const ports = Object.entries(c.ports)
          .map(([k, v]) => `${k}=${v}`)
          .join(",");
        rows.push([c.name, String(c.pid ?? "-"), ports, c.health]);
      }
      const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
      const lines = rows.map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      );
      process.stdout.write(
        `control plane "${status.name}" (${status.state.mode}) at ${status.state.server}\n` +
          `kubeconfig: ${status.state.kubeconfig}\n\n${lines.join("\n")}\n`,
      );
      const healthy = status.components.every((c) => c.health === "ok");
      if (!healthy) process.exitCode = 1;
    });

  cluster
    .command("kubeconfig")
    .description("print the kubeconfig path of a running plane (or its contents with --raw)")
    .addOption(nameOption())
    .option("--raw", "print the kubeconfig itself")
    .action(async (opts: { name: string; raw?: boolean }) => {
      const state = await readPlaneState(planeDir(opts.name));
      if (!state) throw new Error(`no control plane named "${opts.name}"; start one with \`converge cluster up\``);
      process.stdout.write(opts.raw ? await readFile(state.kubeconfig, "utf8") : `${state.kubeconfig}\n`);
    });

  cluster
    .command("binaries")
    .description(
      `find or build the pinned binaries (Kubernetes v${versions.kubernetes}, etcd v${versions.etcd}, kwok v${versions.kwok}, helm v${versions.helm})`,
    )
    .option("--minimal", "only etcd, kube-apiserver and kubectl (no controller-manager, scheduler, kwok, helm)")
    .option("--kubectl", "also build a matching kubectl even if one is on PATH")
    .option("--no-build", "only report; fail if something is missing")
    .action(async (opts: { minimal?: boolean; kubectl?: boolean; build: boolean }) => {
      const names: BinaryName[] = opts.minimal
        ? ["etcd", "kube-apiserver", "kubectl"]
        : ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl", "helm"];
      const found = await ensureBinaries(names, { build: opts.build, log: progress, kubectlFromPath: !opts.kubectl });
      for (const name of names) {
        const b = found[name];
        if (b) process.stdout.write(`${name.padEnd(24)} ${b.source.padEnd(6)} ${b.path}\n`);
      }
      process.stdout.write(`\ncache: ${cacheDirs().assets}\n`);
    });

  return cluster;
}
