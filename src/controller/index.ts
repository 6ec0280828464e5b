/** The controller layer: declaring controllers, reconcile contexts, predicates and the helpers reconciles use. */

export {
  type ChildOptions,
  type ChildReport,
  type ChildrenOptions,
  type ChildSpec,
  type ChildState,
  child,
  dependencyOrder,
  isSubset,
} from "./children.ts";
export {
  type Condition,
  type ConditionInput,
  findCondition,
  isConditionTrue,
  nowRfc3339,
  removeCondition,
  setCondition,
} from "./conditions.ts";
export {
  Controller,
  ControllerBuilder,
  type ControllerDeps,
  type ControllerOptions,
  controller,
  initialListPriority,
  type SourceOptions,
} from "./controller.ts";
export { EventRecorder, type EventRecorderOptions } from "./events.ts";
export { handleFinalizer, hasFinalizer, isDeleting } from "./finalizers.ts";
export {
  type FieldHandler,
  type Handler,
  type HandlerContext,
  HandlersBuilder,
  handlers,
  readPath,
  type UpdateHandler,
} from "./handlers.ts";
export { createLogger, type Logger, type LoggerOptions, silentLogger } from "./logger.ts";
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
export { builtinReadiness, type Readiness, type ReadyCheck } from "./readiness.ts";
export {
  parseKey,
  type ReconcileContext,
  type ReconcileOutcome,
  type Reconciler,
  type Request,
  requeueAfter,
  TerminalError,
} from "./reconcile.ts";
