/** `converge uninstall`: the operator's CRDs deleted (and every object of their kinds), waited for until gone. */
import { Command } from "commander";
import { isNotFound } from "../../client/errors.ts";
import { loadOperator } from "../../generate/run.ts";
import { CustomResourceDefinition } from "../../types/generated/apiextensions.v1.ts";
import { seconds } from "../arguments.ts";
import { type ClusterOptions, clusterOptions, withClient } from "../cluster-options.ts";
import { out, progress } from "../output.ts";
import { type ProjectOptions, projectOptions, projectPaths } from "../project-options.ts";

export function uninstallCommand(): Command {
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
