/** The operator layer: one description of an operator (definitions, controllers, deployment) for tools and for running it. */
export { defineOperator, installCrds, type OperatorDefinition, runOperator, waitForCrds } from "./operator.ts";
