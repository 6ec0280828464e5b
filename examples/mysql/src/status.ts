import { batchv1, type Cache, type ChildReport, type Conditions, corev1, type Live, type StatusOf } from "converge-sdk";
import { type MySQL, mysqlVersionOf, type Phase } from "./api.ts";
import { instanceLabel, instanceUidLabel, namesOf } from "./names.ts";
import { bytesOf } from "./quantity.ts";
import { childIds } from "./workload.ts";

/** What the status is computed from: the children's report and the data objects as the cache has them. */
export interface Observed {
  report: ChildReport[];
  credentials: corev1.Secret | undefined;
  data: corev1.PersistentVolumeClaim | undefined;
  /** Backup Jobs of this MySQL (by its uid label). */
  backupJobs: batchv1.Job[];
}

/**
 * The completion time of the last successful backup: the newest `completionTime` of a Job that completed, never
 * earlier than what the status already says (old Jobs are deleted by the CronJob's history limit). Failed and
 * running Jobs do not count.
 */
export function lastBackupOf(previous: string | undefined, jobs: batchv1.Job[]): string | undefined {
  let last = previous;
  for (const job of jobs) {
    const complete = job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True");
    const at = job.status?.completionTime;
    if (!complete || !at) continue;
    if (!last || Date.parse(at) > Date.parse(last)) last = at;
  }
  return last;
}

/** Phase and message from what is observed: failures first, then missing data, then the server's readiness. */
export function phaseOf(mysql: Live<MySQL>, observed: Observed): { phase: Phase; message: string } {
  const names = namesOf(mysql);
  const failed = observed.report.filter((r) => r.state === "failed");
  if (failed.length) {
    return {
      phase: "Failed",
      message: failed.map((r) => `${r.kind} ${r.name}: ${r.message ?? "rejected"}`).join("; "),
    };
  }
  if (!observed.credentials) return { phase: "Pending", message: `waiting for the Secret ${names.credentials}` };
  for (const [obj, what] of [
    [observed.credentials, `Secret ${names.credentials}`],
    [observed.data, `PersistentVolumeClaim ${names.data}`],
  ] as const) {
    // Something of that name that this operator did not make is never taken over (see the events).
    if (obj && obj.metadata?.labels?.[instanceLabel] !== mysql.metadata.name) {
      return { phase: "Failed", message: `${what} exists and was not made for this MySQL; rename or remove it` };
    }
  }
  const claim = observed.data?.status?.phase;
  if (claim !== "Bound") {
    return { phase: "Pending", message: `waiting for the PersistentVolumeClaim ${names.data} (${claim ?? "absent"})` };
  }
  const server = observed.report.find((r) => r.id === childIds.server);
  if (server?.state !== "ready") {
    return {
      phase: "Progressing",
      message: `StatefulSet ${names.server}: ${server?.message ?? server?.state ?? "not applied yet"}`,
    };
  }
  const pending = observed.report.filter((r) => r.state === "progressing" || r.state === "waiting");
  if (pending.length) {
    return { phase: "Progressing", message: pending.map((r) => `${r.kind} ${r.name}: ${r.message}`).join("; ") };
  }
  const ns = mysql.metadata.namespace;
  const ready = `MySQL ${mysqlVersionOf(mysql)} is ready at ${names.server}.${ns}.svc:3306`;
  const size = observed.data?.spec?.resources?.requests?.storage;
  if (size && bytesOf(size) !== bytesOf(mysql.spec.storageSize)) {
    // The server runs on the volume it has; say that the size asked for was not (yet) given.
    return { phase: "Ready", message: `${ready}; its data volume requests ${size}, not ${mysql.spec.storageSize}` };
  }
  return { phase: "Ready", message: ready };
}

/**
 * The whole status, as the `mysql` controller's `status:` writes it: phase, message and lastBackup, and the conditions
 * Ready / Progressing / Degraded (with the generation they describe) that follow the phase. Converge writes what
 * changed, and nothing when nothing did.
 */
export function setStatus(status: StatusOf<MySQL>, conditions: Conditions, mysql: Live<MySQL>, observed: Observed) {
  const { phase, message } = phaseOf(mysql, observed);
  status.phase = phase;
  status.message = message;
  const lastBackup = lastBackupOf(status.lastBackup, observed.backupJobs);
  if (lastBackup) status.lastBackup = lastBackup;
  conditions.set("Ready", phase === "Ready", phase === "Ready" ? "ServerReady" : phase, message);
  const moving = phase === "Pending" || phase === "Progressing";
  conditions.set("Progressing", moving, moving ? phase : "Settled", moving ? message : "");
  const failed = phase === "Failed";
  conditions.set("Degraded", failed, failed ? "ChildRejected" : "NoFailures", failed ? message : "");
}

/** What the status is computed from, read from the cache (never a cluster scan). */
export function observe(mysql: Live<MySQL>, report: ChildReport[], cache: Cache): Observed {
  const namespace = mysql.metadata.namespace;
  const names = namesOf(mysql);
  return {
    report,
    credentials: cache.get(corev1.Secret, { namespace, name: names.credentials }),
    data: cache.get(corev1.PersistentVolumeClaim, { namespace, name: names.data }),
    backupJobs: cache.list(batchv1.Job, { namespace, matchLabels: { [instanceUidLabel]: mysql.metadata.uid } }),
  };
}
