/** Status conditions with apimachinery's semantics (meta.SetStatusCondition). */
import type { Condition } from "../types/generated/meta.v1.ts";

export type { Condition };

export type ConditionInput = Omit<Condition, "lastTransitionTime" | "message" | "status"> & {
  status: "True" | "False" | "Unknown";
  message?: string;
  /** Defaults to now, and is only used when the status changes. */
  lastTransitionTime?: string;
};

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function nowRfc3339(date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/**
 * Sets a condition in `conditions` (in place). lastTransitionTime changes only when the status changes;
 * reason, message and observedGeneration are updated either way. Returns whether anything changed, so that
 * a status write can be skipped when nothing did.
 */
export function setCondition(conditions: Condition[], input: ConditionInput): boolean {
  const existing = conditions.find((c) => c.type === input.type);
  const message = input.message ?? "";
  if (!existing) {
    conditions.push({
      type: input.type,
      status: input.status,
      reason: input.reason,
      message,
      lastTransitionTime: input.lastTransitionTime ?? nowRfc3339(),
      ...(input.observedGeneration !== undefined ? { observedGeneration: input.observedGeneration } : {}),
    });
    return true;
  }
  let changed = false;
  if (existing.status !== input.status) {
    existing.status = input.status;
    existing.lastTransitionTime = input.lastTransitionTime ?? nowRfc3339();
    changed = true;
  }
  if (existing.reason !== input.reason) {
    existing.reason = input.reason;
    changed = true;
  }
  if (existing.message !== message) {
    existing.message = message;
    changed = true;
  }
  if (input.observedGeneration !== undefined && existing.observedGeneration !== input.observedGeneration) {
    existing.observedGeneration = input.observedGeneration;
    changed = true;
  }
  return changed;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}

/** Removes a condition (in place); returns whether it was there. */
export function removeCondition(conditions: Condition[], type: string): boolean {
  const i = conditions.findIndex((c) => c.type === type);
  if (i < 0) return false;
  conditions.splice(i, 1);
  return true;
}

export type ConditionStatus = "True" | "False" | "Unknown";

/**
 * The conditions of a status being written (`ctx.status((status, conditions) => ...)`), bound to the object's
 * generation: `set` fills `observedGeneration` and moves `lastTransitionTime` only when the status changes. The
 * list is created in the status only when a condition is set, so a status without conditions stays without.
 */
export class Conditions {
  private readonly holder: { conditions?: Condition[] | undefined };
  private readonly generation: number | undefined;

  constructor(holder: { conditions?: Condition[] | undefined }, generation: number | undefined) {
    this.holder = holder;
    this.generation = generation;
  }

  /** Sets condition `type`; a boolean status is "True" or "False". Returns whether anything changed. */
  set(type: string, status: boolean | ConditionStatus, reason: string, message = ""): boolean {
    this.holder.conditions ??= [];
    return setCondition(this.holder.conditions, {
      type,
      status: status === true ? "True" : status === false ? "False" : status,
      reason,
      message,
      ...(this.generation !== undefined ? { observedGeneration: this.generation } : {}),
    });
  }

  get(type: string): Condition | undefined {
    return findCondition(this.holder.conditions, type);
  }

  isTrue(type: string): boolean {
    return isConditionTrue(this.holder.conditions, type);
  }

  /** Removes condition `type`; returns whether it was there. */
  remove(type: string): boolean {
    return this.holder.conditions ? removeCondition(this.holder.conditions, type) : false;
  }

  get all(): readonly Condition[] {
    return this.holder.conditions ?? [];
  }
}
