/** `converge build`: the operator bundled into plain JavaScript, as its image runs it. */
import { resolve } from "node:path";
import { Command } from "commander";
import { buildOperator, runtimeNodeFlags } from "../../generate/build.ts";
import { out, progress, shown } from "../output.ts";

export function buildCommand(): Command {
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
