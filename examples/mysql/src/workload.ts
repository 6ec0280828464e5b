import { appsv1, batchv1, type ChildSpec, child, corev1, type Live } from "converge-sdk";
import { type MySQL, mysqlVersionOf } from "./api.ts";
import { secretKeys } from "./data.ts";
import { commonLabels, instanceUidLabel, namesOf, serverLabels } from "./names.ts";

/** The MySQL server's port, on the container and the Service. */
export const mysqlPort = 3306;

const secretEnv = (mysql: Live<MySQL>, name: string, key: string): corev1.EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: namesOf(mysql).credentials, key } },
});

/**
 * Ready when a query over TCP succeeds as root: the image's first start runs a temporary server without networking
 * while it initialises the data directory, so the pod turns Ready only once the real server accepts clients. The
 * password comes from the environment (MYSQL_PWD), never from the command line.
 */
const readinessCommand =
  'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysql --protocol=TCP -h 127.0.0.1 -u root -e "SELECT 1"';

/**
 * The server: a StatefulSet of one replica, not a Deployment, because a StatefulSet never runs two pods of the same
 * identity at once — not during a rollout, not when a node stops answering — while a Deployment may start the
 * replacement before the old pod is gone, and two mysqld on one data directory corrupt it. The data volume is the
 * separate claim of the `mysql-data` controller rather than a volumeClaimTemplate, so that its deletion policy is
 * the MySQL's, not the StatefulSet's.
 */
export function statefulSet(mysql: Live<MySQL>): appsv1.StatefulSet {
  const names = namesOf(mysql);
  const labels = serverLabels(mysql);
  return {
    metadata: { name: names.server, labels: commonLabels(mysql, "database") },
    spec: {
      replicas: 1,
      serviceName: names.server,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "mysql",
              image: `mysql:${mysqlVersionOf(mysql)}`,
              env: [
                secretEnv(mysql, "MYSQL_ROOT_PASSWORD", secretKeys.rootPassword),
                { name: "MYSQL_DATABASE", value: mysql.spec.databaseName },
                { name: "MYSQL_USER", value: mysql.spec.databaseUser },
                secretEnv(mysql, "MYSQL_PASSWORD", secretKeys.password),
              ],
              ports: [{ name: "mysql", containerPort: mysqlPort }],
              readinessProbe: {
                exec: { command: ["sh", "-c", readinessCommand] },
                initialDelaySeconds: 5,
                periodSeconds: 10,
                timeoutSeconds: 5,
              },
              volumeMounts: [{ name: "data", mountPath: "/var/lib/mysql" }],
            },
          ],
          volumes: [{ name: "data", persistentVolumeClaim: { claimName: names.data } }],
        },
      },
    },
  };
}

/** The Service clients connect to: `<name>.<namespace>.svc:3306`. */
export function service(mysql: Live<MySQL>): corev1.Service {
  return {
    metadata: { name: namesOf(mysql).server, labels: commonLabels(mysql, "database") },
    spec: {
      selector: serverLabels(mysql),
      ports: [{ name: "mysql", port: mysqlPort, targetPort: "mysql" }],
    },
  };
}

/**
 * One backup: `mysqldump` of the database over the Service, written to the backup volume under a UTC timestamp
 * (to a temporary name first, so a failed dump never looks like a finished one).
 */
const backupScript = [
  "set -euo pipefail",
  'file="/backup/$MYSQL_DATABASE-$(date -u +%Y%m%dT%H%M%SZ).sql"',
  'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysqldump --protocol=TCP -h "$MYSQL_HOST" -u root --single-transaction \\',
  '  --routines --events --databases "$MYSQL_DATABASE" > "$file.partial"',
  'mv "$file.partial" "$file"',
  'echo "backup written to $file"',
].join("\n");

/** Labels of backup Jobs (and their pods): the MySQL's name and uid, so its status finds its own backups. */
export function backupJobLabels(mysql: Live<MySQL>): Record<string, string> {
  return { ...commonLabels(mysql, "backup"), [instanceUidLabel]: mysql.metadata.uid };
}

/**
 * The backups: a CronJob on `spec.backupSchedule` whose Jobs dump the database into the backup volume. One at a
 * time (`Forbid`), the last three successful and the last failed Job kept for inspection.
 */
export function backupCronJob(mysql: Live<MySQL>): batchv1.CronJob {
  const names = namesOf(mysql);
  const labels = backupJobLabels(mysql);
  return {
    metadata: { name: names.backup, labels: commonLabels(mysql, "backup") },
    spec: {
      schedule: mysql.spec.backupSchedule ?? "",
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: "OnFailure",
              containers: [
                {
                  name: "backup",
                  image: `mysql:${mysqlVersionOf(mysql)}`,
                  command: ["bash", "-c", backupScript],
                  env: [
                    { name: "MYSQL_HOST", value: names.server },
                    { name: "MYSQL_DATABASE", value: mysql.spec.databaseName },
                    secretEnv(mysql, "MYSQL_ROOT_PASSWORD", secretKeys.rootPassword),
                  ],
                  volumeMounts: [{ name: "backup", mountPath: "/backup" }],
                },
              ],
              volumes: [{ name: "backup", persistentVolumeClaim: { claimName: names.backup } }],
            },
          },
        },
      },
    },
  };
}

/** Ids of the declared children, used in dependencies and in the status. */
export const childIds = { server: "server", service: "service", backup: "backup" } as const;

/**
 * What a MySQL should have besides its data: the server, its Service, and the backup CronJob while a schedule is
 * set. Backups wait for the server to be Ready (so a version change reaches the backup image once the server runs
 * it), and on deletion the CronJob goes before the server.
 */
export function desiredChildren(mysql: Live<MySQL>): ChildSpec[] {
  return [
    child(appsv1.StatefulSet, statefulSet(mysql), { id: childIds.server }),
    child(corev1.Service, service(mysql), { id: childIds.service }),
    child(batchv1.CronJob, backupCronJob(mysql), {
      id: childIds.backup,
      dependsOn: [childIds.server],
      when: Boolean(mysql.spec.backupSchedule),
    }),
  ];
}
