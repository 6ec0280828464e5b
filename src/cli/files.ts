/** File helpers of the scaffolding commands. */
import { mkdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes files under `root` (paths relative to it), refusing to replace any that exists. */
export async function writeNew(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content, { flag: "wx" });
  }
}

/** `./x` style import specifier from one file to another (POSIX separators). */
export function importPath(from: string, to: string): string {
  const rel = relative(dirname(from), to).split(sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}
