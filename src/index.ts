/**
 * Converge: the TypeScript SDK for Kubernetes operators.
 *
 * The public entry point. Subpaths give narrower imports: `converge/cluster` (the local control plane) and
 * `converge/testing` (a plane and a namespace per test).
 */
export * from "./cluster/index.ts";
