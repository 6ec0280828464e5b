import type { batchv1, corev1, Desired } from "converge-sdk";
import { labels, names } from "../names.ts";

/** The volume backups are written to: one per cluster, not owned by it, so that backups outlive the cluster. */
export function backupVolume(namespace: string, cluster: string, size: string): corev1.PersistentVolumeClaim {
  return {
    metadata: { name: names(cluster).backups, namespace, labels: { [labels.cluster]: cluster } },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } } },
  };
}

export const jobName = (backup: string, attempt: number) => `${backup}-${attempt}`;
export const dumpPath = (backup: string) => `/backups/${backup}.sql.gz`;

/**
 * One attempt of a backup: `mysqldump` of every database from a read replica (the primary when there is none),
 * compressed onto the backup volume. No retries inside the Job: the backup controller decides about attempts.
 */
export function backupJob(
  backup: string,
  cluster: string,
  attempt: number,
  version: string,
  source: string,
): Desired<batchv1.Job> {
  const n = names(cluster);
  return {
    metadata: {
      name: jobName(backup, attempt),
      labels: { [labels.cluster]: cluster, "db.example.com/backup": backup },
    },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { [labels.cluster]: cluster, "db.example.com/backup": backup } },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "dump",
              image: `mysql:${version}`,
              command: [
                "sh",
                "-c",
                `mysqldump -h ${source}.${n.headlessService} -uroot -p"$MYSQL_ROOT_PASSWORD" --all-databases --single-transaction --source-data=2 | gzip > ${dumpPath(backup)}`,
              ],
              env: [
                {
                  name: "MYSQL_ROOT_PASSWORD",
                  valueFrom: { secretKeyRef: { name: n.credentials, key: "root-password" } },
                },
              ],
              volumeMounts: [{ name: "backups", mountPath: "/backups" }],
            },
          ],
          volumes: [{ name: "backups", persistentVolumeClaim: { claimName: n.backups } }],
        },
      },
    },
  };
}

/** The restore Job: the dump loaded into the new primary's data volume, before its server first starts. */
export function restoreJob(
  restore: string,
  backup: string,
  backupCluster: string,
  target: string,
  version: string,
): Desired<batchv1.Job> {
  return {
    metadata: { name: `restore-${restore}`, labels: { [labels.restore]: restore } },
    spec: {
      backoffLimit: 2,
      template: {
        metadata: { labels: { [labels.restore]: restore } },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "restore",
              image: `mysql:${version}`,
              command: [
                "sh",
                "-c",
                `mysqld --initialize-insecure --datadir=/var/lib/mysql && (mysqld --datadir=/var/lib/mysql --skip-networking & sleep 10; gunzip < ${dumpPath(backup)} | mysql -uroot; mysqladmin -uroot shutdown)`,
              ],
              volumeMounts: [
                { name: "backups", mountPath: "/backups", readOnly: true },
                { name: "data", mountPath: "/var/lib/mysql" },
              ],
            },
          ],
          volumes: [
            { name: "backups", persistentVolumeClaim: { claimName: names(backupCluster).backups, readOnly: true } },
            { name: "data", persistentVolumeClaim: { claimName: names(target).dataVolume(0) } },
          ],
        },
      },
    },
  };
}

/** Complete, Failed or neither, from the Job's conditions. */
export function jobOutcome(job: batchv1.Job | undefined): "Complete" | "Failed" | undefined {
  const c = job?.status?.conditions ?? [];
  if (c.some((x) => x.type === "Complete" && x.status === "True")) return "Complete";
  if (c.some((x) => (x.type === "Failed" || x.type === "FailureTarget") && x.status === "True")) return "Failed";
  return undefined;
}
