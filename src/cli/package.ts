/** The converge-sdk package this CLI belongs to: this repository, or the installed (compiled) package. */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Its root: two folders up in both layouts (src/cli/ here, dist/cli/ in the package). */
const packageRoot = resolve(import.meta.dirname, "..", "..");

export const packageVersion = (
  JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }
).version;
