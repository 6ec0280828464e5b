/** `converge init`: a new operator project in a new or empty folder. */
import { readdir } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { Command } from "commander";
import { writeNew } from "../files.ts";
import { out, shown } from "../output.ts";
import { packageVersion } from "../package.ts";
import { kindNames, kindProblem, projectNameProblem } from "../templates/names.ts";
import { projectFiles } from "../templates/project.ts";

/**
 * The `converge-sdk` dependency of a new project as package.json takes it. Paths (a tarball, a checkout) become
 * absolute `file:` specs, since the project's package.json is not in the folder they are relative to.
 */
function convergeSpec(spec: string): string {
  if (spec.startsWith("file:")) return `file:${resolve(spec.slice("file:".length))}`;
  if (spec.startsWith(".") || isAbsolute(spec) || /\.(tgz|tar\.gz|tar)$/.test(spec)) return `file:${resolve(spec)}`;
  return spec;
}

export function initCommand(): Command {
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
        const files = await projectFiles({ name, kind: kindNames(opts), convergeSpec: convergeSpec(opts.converge) });
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
