/**
 * Installs the CRDs into the cluster of the current KUBECONFIG (e.g. one from `converge cluster up`), serves the
 * conversion webhook on 127.0.0.1 and points the CRD at it, and runs the operator until Ctrl-C.
 */
import { runOperator } from "converge-sdk";
import operator from "./operator.ts";

console.error(`running ${operator.name} against the current KUBECONFIG (Ctrl-C stops it)`);
await runOperator(operator, { installCrds: true });
