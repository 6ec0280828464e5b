/** The options of commands that talk to a cluster: which kubeconfig and context. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { Client } from "../client/client.ts";
import type { OperatorDefinition } from "../operator/operator.ts";

export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
}

export const clusterOptions = (cmd: Command): Command =>
  cmd
    .option("--kubeconfig <path>", "kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context (default: the current one)");

/** The connection options of the client: only what was given, the path absolute. */
export function connection(opts: ClusterOptions): { kubeconfig?: string; context?: string } {
  return {
    ...(opts.kubeconfig !== undefined ? { kubeconfig: resolve(opts.kubeconfig) } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  };
}

/** The cluster, for messages: its kubeconfig file and context. */
export function clusterName(opts: ClusterOptions): string {
  const file = opts.kubeconfig ?? (process.env.KUBECONFIG?.split(":")[0] || "~/.kube/config");
  return `the cluster of ${file}${opts.context ? ` (context ${opts.context})` : ""}`;
}

/** Runs `fn` with a client of the cluster that writes as the operator, closed afterwards. */
export async function withClient<T>(
  op: OperatorDefinition,
  opts: ClusterOptions,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await Client.connect({ ...connection(opts), fieldManager: op.name });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
