#!/usr/bin/env node
import { Command } from "commander";
import { buildCommand } from "./commands/build.ts";
import { clusterCommand } from "./commands/cluster.ts";
import { createCommand } from "./commands/create-api.ts";
import { devCommand } from "./commands/dev.ts";
import { generateCommand } from "./commands/generate.ts";
import { importCommand } from "./commands/import.ts";
import { initCommand } from "./commands/init.ts";
import { installCommand } from "./commands/install.ts";
import { runCommand } from "./commands/run.ts";
import { uninstallCommand } from "./commands/uninstall.ts";
import { packageVersion } from "./package.ts";

/** Usage after a mistake, at every level: `converge create api` without --kind shows the usage of `create api`. */
function helpful(command: Command): Command {
  command.showHelpAfterError();
  for (const sub of command.commands) helpful(sub);
  return command;
}

const program = new Command("converge")
  .description("Converge: write Kubernetes operators in TypeScript")
  .version(packageVersion)
  // Options of the program only before a command: `init --version v1` is init's --version, not the program's.
  .enablePositionalOptions();
for (const command of [
  clusterCommand(),
  initCommand(),
  createCommand(),
  generateCommand(),
  installCommand(),
  uninstallCommand(),
  runCommand(),
  devCommand(),
  buildCommand(),
  importCommand(),
]) {
  program.addCommand(command);
}
helpful(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
