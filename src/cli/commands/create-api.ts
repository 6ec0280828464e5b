/** `converge create api`: a new kind in an existing project, registered in its operator module. */
import type { Dirent } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command } from "commander";
import { exists, importPath, writeNew } from "../files.ts";
import { out, shown } from "../output.ts";
import { type ProjectOptions, projectOptions, projectPaths } from "../project-options.ts";
import { addToOperator, kindFiles, kindPaths, registration } from "../templates/kind.ts";
import { type KindNames, kindNames, kindProblem } from "../templates/names.ts";

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

export function createCommand(): Command {
  const create = new Command("create").description("add to an operator project");
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
      const paths = kindPaths(k);
      const files = await kindFiles(k, paths);
      const api = join(dir, paths.api);
      const ctrl = join(dir, paths.controller);
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
