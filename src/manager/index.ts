/** The manager layer: runs controllers with leader election, metrics, probes and graceful shutdown. */
export { type LeaderClock, type LeaderElectionOptions, LeaderElector } from "./leader.ts";
export { LeadershipLostError, Manager, type ManagerOptions, type ReconcileEvent } from "./manager.ts";
export { OperatorMetrics } from "./metrics.ts";
