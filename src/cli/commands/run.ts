/** `converge run`: the CRDs installed and the operator run from source against the cluster, until Ctrl-C. */
import { Command } from "commander";
import { loadOperator } from "../../generate/run.ts";
import { runOperator } from "../../operator/operator.ts";
import { type ClusterOptions, clusterName, clusterOptions, connection } from "../cluster-options.ts";
import { progress } from "../output.ts";
import { type ProjectOptions, projectOptions, projectPaths } from "../project-options.ts";

export function runCommand(): Command {
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
