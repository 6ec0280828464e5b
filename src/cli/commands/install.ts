/** `converge install`: the operator's CRDs applied to the cluster, waited for until they are served. */
import { Command } from "commander";
import { loadOperator } from "../../generate/run.ts";
import { installCrds } from "../../operator/operator.ts";
import { seconds } from "../arguments.ts";
import { type ClusterOptions, clusterName, clusterOptions, withClient } from "../cluster-options.ts";
import { out, progress } from "../output.ts";
import { type ProjectOptions, projectOptions, projectPaths } from "../project-options.ts";

export function installCommand(): Command {
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
