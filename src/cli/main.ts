#!/usr/bin/env node
import { Command } from "commander";
import { clusterCommand } from "./cluster.ts";
import { importCommand } from "./import.ts";
import { packageVersion } from "./package.ts";
import { projectCommands } from "./project.ts";

const program = new Command("converge")
  .description("Converge: write Kubernetes operators in TypeScript")
  .version(packageVersion)
  .showHelpAfterError()
  // Options of the program only before a command: `init --version v1` is init's --version, not the program's.
  .enablePositionalOptions()
  .addCommand(clusterCommand());
for (const command of projectCommands()) program.addCommand(command);
program.addCommand(importCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
