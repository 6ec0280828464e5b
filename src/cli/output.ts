/** How the commands talk: results on stdout, progress on stderr, paths shown relative to where the user is. */
import { relative, sep } from "node:path";

/** A line of progress, on stderr (stdout stays for results that scripts read). */
export const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** A line of the command's result, on stdout. */
export const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** A path for messages: relative to the working directory when it is inside it. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") || rel.startsWith(sep) ? path : rel;
}
