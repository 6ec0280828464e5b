/**
 * `converge-sdk/runtime`: every layer an operator runs on, for the few who compose their own runtime — the
 * transport and client internals, informers, stores and the shared cache, the work queue and its backoff, the
 * running controller, the leader elector, the webhook server and certificates, and the operator's own metrics.
 * Operator authors need only `converge-sdk`, whose names are all here too.
 */
export * from "./cache/index.ts";
export * from "./client/index.ts";
export * from "./controller/index.ts";
export * from "./definition/index.ts";
export * from "./manager/index.ts";
export * from "./operator/index.ts";
export * from "./queue/index.ts";
export * from "./types/index.ts";
export * from "./webhook/index.ts";
