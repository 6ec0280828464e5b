/**
 * The template project, `project/` beside this module: a working operator project for one placeholder kind
 * (`NoteCard` in `notes.example.com/v1alpha1`, project `notecard-operator`), type-checked, linted and tested with
 * the repository. `converge init` and `converge create api` read its files and rename the placeholder's names to
 * the new project's and kind's: whole words only, each name once (a replacement is never renamed again).
 */
import { readdir, readFile } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import { type KindNames, kindNames } from "./names.ts";

/** The template project's folder; `npm run pack` ships it beside the compiled module. */
export const templateDir = join(import.meta.dirname, "project");

/** The names the template project is written with. */
export const placeholder = {
  project: "notecard-operator",
  kind: kindNames({ kind: "NoteCard", group: "notes.example.com", version: "v1alpha1" }),
} as const;

/**
 * Template files stored under another name: npm leaves `.gitignore` files out of packages, and a package.json
 * would make the folder a package of its own (the template's imports of converge-sdk resolve to this one).
 */
const storedAs: Readonly<Record<string, string>> = {
  gitignore: ".gitignore",
  "package.template.json": "package.json",
};

/** The template's files by their path in a new project (POSIX separators), as stored. */
export async function templateFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(templateDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const stored = relative(templateDir, join(entry.parentPath, entry.name)).split(sep).join("/");
    files.set(storedAs[stored] ?? stored, await readFile(join(entry.parentPath, entry.name), "utf8"));
  }
  return files;
}

/** `s` as a regular expression that matches it literally. */
export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Renames the placeholder's names in a text (or a path): its kind's names (kind, lower-case kind, plural,
 * controller factory, variable, group, version) to `kind`'s, and the project's name to `project` when given.
 */
export function renamer(kind: KindNames, project?: string): (text: string) => string {
  const p = placeholder.kind;
  const names = new Map<string, string>([
    [p.kind, kind.kind],
    [p.lower, kind.lower],
    [p.plural, kind.plural],
    [p.controllerFactory, kind.controllerFactory],
    [p.variable, kind.variable],
    [p.group, kind.group],
    [p.version, kind.version],
    ...(project === undefined ? [] : [[placeholder.project, project] as const]),
  ]);
  // Longest first: `notecard-operator` before `notecard`, `noteCardController` before `noteCard`.
  const words = [...names.keys()].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`\\b(?:${words.map(escapeRegExp).join("|")})\\b`, "g");
  return (text) => text.replace(pattern, (word) => names.get(word) ?? word);
}

/**
 * Points a module's relative imports of other template files at where those files went: `moved` maps template
 * paths to project paths, `from` and `to` are the module's own.
 */
export function relocateImports(text: string, from: string, to: string, moved: ReadonlyMap<string, string>): string {
  return text.replace(/(\bfrom\s+")(\.{1,2}\/[^"]+)"/g, (all, start: string, specifier: string) => {
    const target = moved.get(posix.join(posix.dirname(from), specifier));
    if (target === undefined) return all;
    const path = posix.relative(posix.dirname(to), target);
    return `${start}${path.startsWith(".") ? path : `./${path}`}"`;
  });
}
