/**
 * Installs the operator's CRDs into the cluster of the current KUBECONFIG (e.g. one from `npx converge cluster up`)
 * and runs its controllers until Ctrl-C.
 */
import { runOperator } from "converge-sdk";
import operator from "./operator.ts";

console.error(`running ${operator.name} against the current KUBECONFIG (Ctrl-C stops it)`);
await runOperator(operator, { installCrds: true });
