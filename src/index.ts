/**
 * Converge: the TypeScript SDK for Kubernetes operators. This entry point holds what operator authors use: defining
 * custom resources, declaring controllers and their reconciles, the Kubernetes types, running an operator, and
 * webhooks. The machinery underneath (transport, informers, queue, leader election...) is in
 * `converge-sdk/runtime`; development tools have entry points of their own, so that an operator does not load
 * them: `converge-sdk/cluster` (the local control plane), `converge-sdk/testing` (a plane and a namespace per
 * test, `eventually`, the in-memory `FakeClient`, the fault proxy, an operator process) and
 * `converge-sdk/generate` (CRDs, RBAC, manifests and charts from an operator definition).
 */

// Controllers: what they reconcile, how, and what a reconcile gets.
export type { Cache } from "./cache/index.ts";
// The client, and the errors worth telling apart.
export {
  ApiError,
  Client,
  type DeepPartial,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isInvalid,
  isNotFound,
  isRetryable,
  type KubeClient,
  type ObjectKey,
} from "./client/index.ts";
export {
  allOf,
  annotationsChanged,
  anyOf,
  byLabel,
  type ChildOptions,
  type ChildReport,
  type ChildrenOptions,
  type ChildSpec,
  type ChildState,
  type Condition,
  type ConditionStatus,
  type Conditions,
  type ControllerBuilder,
  type ControllerDefinition,
  type ControllerOptions,
  child,
  controller,
  controllerOf,
  type Desired,
  type EventOptions,
  filter,
  findCondition,
  generationChanged,
  type Handler,
  type HandlerContext,
  type HandlersBuilder,
  hasFinalizer,
  isConditionTrue,
  isDeleting,
  type KeyContext,
  type Live,
  type LiveOf,
  type Logger,
  labelsChanged,
  metricCounter,
  metricGauge,
  type ObjectContext,
  type Predicate,
  type ReadyCheck,
  type ReconcileOutcome,
  type Request,
  requeueAfter,
  resourceVersionChanged,
  type SourceOptions,
  type StatusOf,
  setControllerReference,
  TerminalError,
} from "./controller/index.ts";
// Custom resources: one TypeScript definition gives the type, the CRD and validation.
export {
  cel,
  celRules,
  conditions,
  defineResource,
  embeddedResource,
  type FieldError,
  intOrString,
  listMap,
  listType,
  type ObjectOfVersion,
  preserveUnknown,
  type ResourceDefinition,
  type Static,
  type TSchema,
  Type,
  type VersionDefinition,
} from "./definition/index.ts";
// Running an operator.
export { Manager, type ManagerOptions } from "./manager/index.ts";
export {
  type AlertRule,
  type CapabilityLevel,
  defineOperator,
  installCrds,
  type MetricPanel,
  type OperatorDefinition,
  type RunOptions,
  runOperator,
} from "./operator/index.ts";
// Kubernetes types: one namespace per API group version, and what every kind shares.
export * from "./types/index.ts";
// Admission and conversion webhooks.
export {
  type AdmissionDecision,
  type AdmissionRequest,
  type AdmissionWebhook,
  allow,
  type Conversion,
  defineConversion,
  deny,
  type FieldCause,
  type MutationResult,
  mutatingWebhook,
  stash,
  unstash,
  validatingWebhook,
} from "./webhook/index.ts";
