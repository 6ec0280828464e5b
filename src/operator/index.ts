/** The operator layer: one description of an operator (definitions, controllers, deployment) for tools and for running it. */
export {
  type AlertRule,
  type CapabilityLevel,
  capabilityLevels,
  createOperatorManager,
  defineOperator,
  installCrds,
  type MetricPanel,
  type OperatorDefinition,
  type RunOptions,
  runOperator,
  waitForCrds,
} from "./operator.ts";
export { hasWebhooks, type WebhookMode, type WebhookSetup, webhookNames, webhookOptions } from "./webhooks.ts";
