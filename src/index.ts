/**
 * Converge: the TypeScript SDK for Kubernetes operators.
 *
 * The public entry point re-exports every layer an operator runs on. Development tools have their own entry
 * points, so that an operator does not load them: `converge-sdk/cluster` (the local control plane) and
 * `converge-sdk/testing` (a plane and a namespace per test, `eventually`, and the in-memory `FakeClient`) and
 * `converge-sdk/generate` (CRDs, RBAC, manifests and charts from an operator definition).
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
