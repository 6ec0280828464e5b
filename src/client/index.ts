/** The client layer: kubeconfig loading, pooled HTTP, typed verbs and typed API errors. */
export * from "./api.ts";
export { Client, type ClientOptions } from "./client.ts";
export { type ConnectionConfig, type LoadOptions, loadConnection } from "./config.ts";
export * from "./errors.ts";
export { isNotLeader, NotLeaderError, type WriteFence, type WriteKind, WritesInFlight } from "./fence.ts";
export {
  applyJsonPatch,
  applyMergePatch,
  deepEqual,
  type Json,
  JsonPatchError,
  type JsonPatchOperation,
  jsonPatch,
  mergePatch,
  type PatchOperation,
} from "./patch.ts";
export {
  type FieldMatcher,
  type LabelMatcher,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
} from "./selector.ts";
export {
  buildPath,
  type Query,
  type RequestSpec,
  Transport,
  type TransportObserver,
  type TransportOptions,
} from "./transport.ts";
