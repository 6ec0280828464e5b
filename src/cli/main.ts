#!/usr/bin/env node
import { Command } from "commander";
import { clusterCommand } from "./cluster.ts";

const program = new Command("converge")
  .description("Converge: write Kubernetes operators in TypeScript")
  .version("0.1.0")
  .showHelpAfterError()
  .addCommand(clusterCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
