/** The files of a new operator project, as `converge init` writes them (paths relative to the project folder). */
import type { KindNames } from "./names.ts";
import { renamer, templateFiles } from "./template.ts";

export interface ProjectParams {
  /** Folder-independent project name: the npm package's and the operator's (a DNS label). */
  name: string;
  /** The first kind, in src/api.ts. */
  kind: KindNames;
  /** The `converge-sdk` dependency: a version range, or any other npm spec (a tarball, `file:` a checkout). */
  convergeSpec: string;
}

/**
 * The template project renamed for `p`. Its package.json gets `p.convergeSpec` as its converge-sdk dependency; its
 * `node` devDependency, which gives the project's npm scripts Node 24, is the repository's own (a test keeps them
 * equal). JSON files are written as `JSON.stringify` prints them, whatever the template's formatting.
 */
export async function projectFiles(p: ProjectParams): Promise<Record<string, string>> {
  const rename = renamer(p.kind, p.name);
  const files: Record<string, string> = {};
  for (const [path, text] of await templateFiles()) {
    let content = rename(text);
    if (path.endsWith(".json")) {
      const json = JSON.parse(content) as { dependencies?: Record<string, string> };
      if (path === "package.json") json.dependencies = { ...json.dependencies, "converge-sdk": p.convergeSpec };
      content = `${JSON.stringify(json, null, 2)}\n`;
    }
    files[rename(path)] = content;
  }
  return files;
}
