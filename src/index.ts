/**
 * Converge: the TypeScript SDK for Kubernetes operators.
 *
 * The public entry point re-exports every layer a user needs. Subpaths give narrower imports:
 * `converge/cluster` (the local control plane) and `converge/testing` (a plane and a namespace per test).
 */
export * from "./cache/index.ts";
export * from "./client/index.ts";
export * from "./cluster/index.ts";
export * from "./controller/index.ts";
export * from "./manager/index.ts";
export * from "./queue/index.ts";
export * from "./types/index.ts";
