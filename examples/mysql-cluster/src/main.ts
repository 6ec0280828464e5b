/**
 * Installs the CRDs into the cluster of the current KUBECONFIG (e.g. one from `converge cluster up`), serves the
 * conversion webhook on 127.0.0.1 and points the CRD at it, runs the operator until Ctrl-C, and once it leads,
 * migrates MySQLClusters still stored as v1alpha1 to v1beta1.
 */
import { installCrds } from "converge-sdk";
import { createOperatorManager } from "converge-sdk/runtime";
import { MySQLCluster } from "./api/cluster.ts";
import operator from "./operator.ts";
import { migrateStorage } from "./storage-migration.ts";

console.error(`running ${operator.name} against the current KUBECONFIG (Ctrl-C stops it)`);
const manager = await createOperatorManager(operator);
await installCrds(manager.client, operator);
const running = manager.start({ handleSignals: true });
void manager
  .whenLeading()
  .then(() => migrateStorage(manager.client, MySQLCluster))
  .then((result) => manager.log.info({ result }, "storage version of MySQLClusters"))
  .catch((err: unknown) => manager.log.error({ err }, "storage migration of MySQLClusters failed"));
await running;
