/** `converge generate`: the files the operator definition implies, written only when they changed. */
import { Command } from "commander";
import { generators } from "../../generate/index.ts";
import { loadOperator, runGenerate } from "../../generate/run.ts";
import { out } from "../output.ts";
import { type ProjectOptions, projectOptions, projectPaths } from "../project-options.ts";

export function generateCommand(): Command {
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
