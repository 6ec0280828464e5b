import type { Conditions } from "converge-sdk";
import type { ClusterStatus } from "../api/cluster.ts";

/**
 * The conditions a user waits on (`kubectl wait --for=condition=Ready mysqlcluster/x`):
 *
 * - `Ready`: the primary and every pod wanted are ready, and no promotion is under way;
 * - `PrimaryAvailable`: the primary is ready (writes are served);
 * - `Progressing`: an upgrade, rollback, promotion or scaling is under way;
 * - `Degraded`: the spec's revision failed to roll out and was rolled back, or pods are missing.
 */
export function setConditions(
  conditions: Conditions,
  status: ClusterStatus,
  targetRevision: string,
  primaryReady: boolean,
  ready: number,
  wanted: number,
): void {
  const failed = status.failedRevision?.hash === targetRevision ? status.failedRevision : undefined;
  const allReady = primaryReady && ready >= wanted && !status.failover;
  conditions.set(
    "Ready",
    allReady,
    allReady ? "AllPodsReady" : status.failover ? "FailingOver" : primaryReady ? "PodsNotReady" : "PrimaryNotReady",
    `${ready}/${wanted} pods ready${status.primary ? `, primary ${status.primary}` : ""}`,
  );
  conditions.set(
    "PrimaryAvailable",
    primaryReady && !status.failover,
    primaryReady && !status.failover ? "PrimaryReady" : "PrimaryUnavailable",
    status.primary ? `primary ${status.primary}` : "no primary yet",
  );
  const progress = status.failover
    ? { reason: "FailingOver", message: `promoting ${status.failover.to}` }
    : status.rollout
      ? {
          reason: status.rollout.step === "RollingBack" ? "RollingBack" : "Upgrading",
          message: `${status.rollout.step} ${status.rollout.version}`,
        }
      : ready < wanted
        ? { reason: "Scaling", message: `${ready}/${wanted} pods ready` }
        : undefined;
  conditions.set("Progressing", progress !== undefined, progress?.reason ?? "Stable", progress?.message ?? "");
  if (failed) {
    conditions.set("Degraded", true, "RolloutFailed", `${failed.version}: ${failed.reason}; rolled back`);
  } else if (status.primary && !allReady && !progress) {
    conditions.set("Degraded", true, "PodsNotReady", `${ready}/${wanted} pods ready`);
  } else {
    conditions.set("Degraded", false, "AsExpected", "");
  }
}
