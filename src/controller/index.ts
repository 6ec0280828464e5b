/** The controller layer: declaring controllers, reconcile contexts, predicates and the helpers reconciles use. */

export { applyIfChanged, canOwn, childObject, type Desired, isSubset } from "./apply.ts";
export {
  type Behaviour,
  ControllerBuilder,
  type ControllerDefinition,
  type ControllerOptions,
  controller,
  type KeyReconciler,
  type ObjectReconciler,
  type RunContext,
  type Source,
  type SourceOptions,
} from "./builder.ts";
export {
  type ChildOptions,
  type ChildReport,
  type ChildrenHost,
  type ChildrenOptions,
  type ChildSpec,
  type ChildState,
  child,
  childConditions,
  childLabel,
  dependencyOrder,
} from "./children.ts";
export {
  type Condition,
  type ConditionInput,
  type ConditionStatus,
  Conditions,
  findCondition,
  isConditionTrue,
  nowRfc3339,
  removeCondition,
  setCondition,
} from "./conditions.ts";
export {
  asLive,
  type BaseContext,
  type ContextDeps,
  type EventOptions,
  type KeyContext,
  type Live,
  type LiveOf,
  type ObjectContext,
  objectContext,
  type Request,
} from "./context.ts";
export { Controller, type ControllerDeps, initialListPriority } from "./controller.ts";
export { EventRecorder, type EventRecorderOptions } from "./events.ts";
export { hasFinalizer, isDeleting } from "./finalizers.ts";
export {
  type FieldHandler,
  type Handler,
  type HandlerContext,
  HandlersBuilder,
  readPath,
  type UpdateHandler,
} from "./handlers.ts";
export { createLogger, type Logger, type LoggerOptions, silentLogger } from "./logger.ts";
export { byLabel } from "./mappers.ts";
export { detachedRegistry, metricCounter, metricGauge } from "./metrics.ts";
export { controllerOf, groupOf, type OwnerRef, setControllerReference, setOwnerReference } from "./owners.ts";
export {
  allOf,
  annotationsChanged,
  anyOf,
  filter,
  generationChanged,
  labelsChanged,
  type Predicate,
  resourceVersionChanged,
} from "./predicates.ts";
export { builtinReadiness, type Readiness, type ReadyCheck, readiness } from "./readiness.ts";
export { parseKey, type ReconcileOutcome, requeueAfter, TerminalError } from "./reconcile.ts";
export { type StatusMutation, type StatusOf, writeStatus } from "./status.ts";
