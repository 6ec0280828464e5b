import { Cron } from "croner";

/**
 * Scheduled backups are made by the operator, not a CronJob: each schedule slot names its backup
 * (`<cluster>-<slot time>`), and a backup is created with that name, so that an operator restarted, or a new
 * leader, never makes a second backup for a slot (the create answers AlreadyExists). Missed slots are not made up:
 * only the latest slot that is due is taken, as a CronJob does with `startingDeadlineSeconds` unset.
 */

// croner is a small, dependency-free, well-kept cron evaluator; a hand-written one would be longer than this module.
const cronOf = (schedule: string) => new Cron(schedule, { paused: true, timezone: "UTC" });

/** The latest slot at or before `now`, after `last` (the slot already taken) and not before `since`. */
export function dueSlot(schedule: string, now: Date, since: Date, last: Date | undefined): Date | undefined {
  const cron = cronOf(schedule);
  // A slot at `now` exactly counts: look from just after it.
  const [slot] = cron.previousRuns(1, new Date(now.getTime() + 1));
  if (!slot || slot.getTime() < since.getTime()) return undefined;
  if (last && slot.getTime() <= last.getTime()) return undefined;
  return slot;
}

/** The next slot after `now`. */
export function nextSlot(schedule: string, now: Date): Date | undefined {
  return cronOf(schedule).nextRun(now) ?? undefined;
}

/** `20260102T030405Z` → the name part of a slot: sortable, DNS-safe. */
export function slotId(slot: Date): string {
  return slot
    .toISOString()
    .replace(/\.\d{3}Z$/, "")
    .replace(/[-:]/g, "")
    .toLowerCase();
}

export const scheduledBackupName = (cluster: string, slot: Date) => `${cluster}-${slotId(slot)}`;
export const preUpgradeBackupName = (cluster: string, revision: string) => `${cluster}-pre-upgrade-${revision}`;

/** Retention: of the scheduled backups (newest first by slot), those beyond `keep` that are no longer running. */
export function expired(
  backups: ReadonlyArray<{ name: string; slot: string; finished: boolean }>,
  keep: number,
): string[] {
  return [...backups]
    .sort((a, b) => b.slot.localeCompare(a.slot))
    .slice(keep)
    .filter((b) => b.finished)
    .map((b) => b.name);
}

/** The wait before attempt `attempt` (2, 3, ...): `base`, doubled each time. */
export function backoffMs(attempt: number, baseSeconds: number): number {
  return baseSeconds * 1000 * 2 ** Math.max(0, attempt - 2);
}
