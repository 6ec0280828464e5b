/** The options of commands that work on an operator project: its folder and its operator module. */
import { resolve } from "node:path";
import type { Command } from "commander";

export const defaultOperator = "src/operator.ts";

export interface ProjectOptions {
  dir?: string;
  operator: string;
}

export const projectOptions = (cmd: Command): Command =>
  cmd
    .option("-d, --dir <path>", "the project folder (default: the current directory)")
    .option("--operator <file>", "the operator module, relative to the project folder", defaultOperator);

/** The project folder and the operator module, absolute. */
export function projectPaths(opts: ProjectOptions): { dir: string; operator: string } {
  const dir = resolve(opts.dir ?? ".");
  return { dir, operator: resolve(dir, opts.operator) };
}
