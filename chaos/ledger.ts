/**
 * The invariants a chaos scenario is judged by, computed from what the apiserver holds and what the replicas'
 * proxies saw: effects lost or done twice (the ledger), and leader overlap — whether a replica's write reached
 * the apiserver while another replica held the lease.
 */
import type { ProxiedRequest } from "../src/testing/fault-proxy.ts";
import type { corev1 } from "../src/types/index.ts";
import { label, type Task } from "./task.ts";

export interface LedgerCount {
  lost: number;
  duplicates: number;
  /** Effects by writer identity. */
  byWriter: Record<string, number>;
}

const labelsOf = (cm: corev1.ConfigMap) => cm.metadata?.labels ?? {};

/** Ledger mode: one effect per (task, step) ever done, and one for every task's final step. */
export function countLedger(tasks: readonly Task[], effects: readonly corev1.ConfigMap[]): LedgerCount {
  const seen = new Map<string, number>();
  const byWriter: Record<string, number> = {};
  for (const e of effects) {
    const l = labelsOf(e);
    const key = `${l[label.task]}/${l[label.step]}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const w = l[label.writer] ?? "?";
    byWriter[w] = (byWriter[w] ?? 0) + 1;
  }
  let duplicates = 0;
  for (const n of seen.values()) if (n > 1) duplicates += n - 1;
  let lost = 0;
  for (const t of tasks) if (!seen.has(`${t.metadata?.name}/${t.spec.step}`)) lost++;
  return { lost, duplicates, byWriter };
}

/** Handler mode: each task has exactly the effects of `expected(task)` (handler ids), each once. */
export function countHandlers(
  tasks: readonly Task[],
  effects: readonly corev1.ConfigMap[],
  expected: (t: Task) => string[],
): LedgerCount {
  const seen = new Map<string, number>();
  const byWriter: Record<string, number> = {};
  for (const e of effects) {
    const l = labelsOf(e);
    const key = `${l[label.task]}/${l[label.step]}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const w = l[label.writer] ?? "?";
    byWriter[w] = (byWriter[w] ?? 0) + 1;
  }
  let lost = 0;
  let duplicates = 0;
  for (const t of tasks) {
    for (const id of expected(t)) {
      const n = seen.get(`${t.metadata?.name}/${id}`) ?? 0;
      if (n === 0) lost++;
      if (n > 1) duplicates += n - 1;
    }
  }
  return { lost, duplicates, byWriter };
}

/** Children mode: every task has exactly `spec.step` children, all of its current step; extras count as lost prunes. */
export function countChildren(tasks: readonly Task[], children: readonly corev1.ConfigMap[]): LedgerCount {
  const byTask = new Map<string, corev1.ConfigMap[]>();
  const byWriter: Record<string, number> = {};
  for (const c of children) {
    const t = labelsOf(c)[label.child] ?? "";
    byTask.set(t, [...(byTask.get(t) ?? []), c]);
    const w = labelsOf(c)[label.writer] ?? "?";
    byWriter[w] = (byWriter[w] ?? 0) + 1;
  }
  let lost = 0;
  for (const t of tasks) {
    const mine = byTask.get(t.metadata?.name ?? "") ?? [];
    const want = t.spec.step;
    const right = mine.filter((c) => c.data?.step === String(want) && !c.metadata?.deletionTimestamp).length;
    // Missing or stale children, and children that should have been pruned.
    lost += Math.max(0, want - right) + Math.max(0, mine.filter((c) => !c.metadata?.deletionTimestamp).length - want);
  }
  return { lost, duplicates: 0, byWriter };
}

/** A change of lease holder: a replica's successful Lease write, or one made from outside (a thief). */
export interface LeaseChange {
  owner: string;
  at: number;
  /**
   * A change the replicas could not have waited for (a thief that ignores the protocol), dated when the deposed
   * leader learned of it: only its writes sent from then on count as overlap, since no fence can recall a write
   * already on the wire when someone takes the Lease without waiting for it to expire.
   */
  noticed?: boolean;
}

const writeVerbs = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** The writes of a replica that may have taken effect: forwarded, and either accepted or never answered. */
export function committedWrites(requests: readonly ProxiedRequest[]): ProxiedRequest[] {
  return requests.filter(
    (r) =>
      r.forwarded &&
      r.verb !== undefined &&
      writeVerbs.has(r.verb) &&
      r.resource !== "leases" &&
      r.resource !== "events" &&
      (r.status === 0 || (r.status >= 200 && r.status < 300)),
  );
}

/** Lease holder changes seen through the replicas' proxies (successful creates and updates of the Lease). */
export function leaseChanges(replicas: ReadonlyArray<{ identity: string; requests: readonly ProxiedRequest[] }>) {
  const writes: LeaseChange[] = [];
  for (const r of replicas) {
    for (const q of r.requests) {
      if (q.resource === "leases" && (q.verb === "create" || q.verb === "update") && q.status >= 200 && q.status < 300)
        writes.push({ owner: r.identity, at: q.at });
    }
  }
  return writes;
}

/**
 * The longest time (ms) a replica's write may have reached the apiserver while another held the lease: for each
 * committed write, the time from the moment its writer stopped holding the lease (another's acquisition, as early
 * as it could have committed) to the moment the write was answered. 0 when no write crossed a change of holder.
 * Also counts the changes of holder.
 */
export function leaderOverlap(
  replicas: ReadonlyArray<{ identity: string; requests: readonly ProxiedRequest[] }>,
  external: readonly LeaseChange[] = [],
): { overlapMs: number; changes: number } {
  const all = [...leaseChanges(replicas), ...external].sort((a, b) => a.at - b.at);
  // Holder epochs: a new epoch only when the holder differs (renewals extend the current one).
  const epochs: LeaseChange[] = [];
  for (const c of all) if (epochs.at(-1)?.owner !== c.owner) epochs.push(c);
  let overlapMs = 0;
  for (const r of replicas) {
    for (const w of committedWrites(r.requests)) {
      const end = w.answeredAt ?? w.at;
      // The first epoch of someone else that began after this replica's latest epoch started before the write.
      let mineIdx = -1;
      for (let i = 0; i < epochs.length; i++)
        if ((epochs[i] as LeaseChange).at <= w.at && epochs[i]?.owner === r.identity) mineIdx = i;
      const next = epochs.slice(mineIdx + 1).find((e) => e.owner !== r.identity);
      if (next && next.at < end && !(next.noticed && w.at < next.at)) overlapMs = Math.max(overlapMs, end - next.at);
    }
  }
  return { overlapMs, changes: Math.max(0, epochs.length - 1) };
}
