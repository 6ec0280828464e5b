/**
 * Installs the HelloWorld CRD into the cluster of the current KUBECONFIG (e.g. one from `converge cluster up`) and
 * runs the operator until Ctrl-C.
 */
import { runOperator } from "converge-sdk";
import operator from "./operator.ts";

console.error(`running ${operator.name} against the current KUBECONFIG (Ctrl-C stops it)`);
await runOperator(operator, { installCrds: true });
