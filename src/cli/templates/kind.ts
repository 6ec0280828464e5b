/**
 * A kind added to a project by `converge create api`: the template project's definition (src/api.ts), controller
 * (src/controller.ts), unit test and sample, renamed for the kind and placed in their own files, and the lines
 * that register it in the operator module, placed above the markers the template's src/operator.ts carries.
 */
import type { KindNames } from "./names.ts";
import { escapeRegExp, placeholder, relocateImports, renamer, templateFiles } from "./template.ts";

/** Where the files of a new kind go, relative to the project folder (POSIX separators). */
export interface KindPaths {
  api: string;
  controller: string;
  test: string;
  sample: string;
}

export function kindPaths(k: KindNames): KindPaths {
  return {
    api: `src/api/${k.lower}.ts`,
    controller: `src/controllers/${k.lower}.ts`,
    test: `test/${k.lower}.test.ts`,
    sample: `config/samples/${k.lower}.yaml`,
  };
}

/** The files of a new kind by their paths, in the order of `KindPaths`; the imports between them follow them. */
export async function kindFiles(k: KindNames, paths: KindPaths = kindPaths(k)): Promise<Record<string, string>> {
  const moved = new Map<string, string>([
    ["src/api.ts", paths.api],
    ["src/controller.ts", paths.controller],
    ["test/unit.test.ts", paths.test],
    [`config/samples/${placeholder.kind.lower}.yaml`, paths.sample],
  ]);
  const template = await templateFiles();
  const rename = renamer(k);
  const files: Record<string, string> = {};
  for (const [from, to] of moved) {
    const text = template.get(from);
    if (text === undefined) throw new Error(`the template project has no ${from}`);
    files[to] = relocateImports(rename(text), from, to, moved);
  }
  return files;
}

/** Where `converge create api` adds a kind to src/operator.ts: comment lines that `converge init` writes. */
export const markers = {
  imports: "// +converge:scaffold:imports",
  definitions: "// +converge:scaffold:definitions",
  controllers: "// +converge:scaffold:controllers",
} as const;

/** What registering a kind in src/operator.ts takes, each line placed above its marker. */
export function registration(
  k: KindNames,
  imports: { api: string; controller: string },
): Record<keyof typeof markers, string[]> {
  return {
    imports: [
      `import { ${k.kind} } from "${imports.api}";`,
      `import { ${k.controllerFactory} } from "${imports.controller}";`,
    ],
    definitions: [`${k.kind},`],
    controllers: [`${k.controllerFactory},`],
  };
}

/**
 * Adds the registration lines above the markers of an operator module (each at its marker's indentation), or
 * returns undefined when one of the markers is missing.
 */
export function addToOperator(source: string, lines: Record<keyof typeof markers, string[]>): string | undefined {
  let out = source;
  for (const key of Object.keys(markers) as Array<keyof typeof markers>) {
    const marker = markers[key];
    const match = new RegExp(`^([ \\t]*)${escapeRegExp(marker)}[ \\t]*$`, "m").exec(out);
    if (!match) return undefined;
    const indent = match[1] ?? "";
    const added = lines[key].map((l) => `${indent}${l}\n`).join("");
    out = out.slice(0, match.index) + added + out.slice(match.index);
  }
  return out;
}
