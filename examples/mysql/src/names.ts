import type { Live } from "converge-sdk";
import type { MySQL } from "./api.ts";

/** Label that ties every object made for a MySQL to it by name (Jobs of its backups included). */
export const instanceLabel = "operators.example.com/mysql";
/** Label that ties backup Jobs to one MySQL object, so a MySQL created again with the same name has its own. */
export const instanceUidLabel = "operators.example.com/mysql-uid";

/** The names of what a MySQL is made of, all derived from its own name. */
export function namesOf(mysql: Live<MySQL>) {
  const name = mysql.metadata.name;
  return {
    /** StatefulSet and Service (clients connect to `<name>:3306`). */
    server: name,
    /** Secret with the generated passwords. */
    credentials: `${name}-credentials`,
    /** PersistentVolumeClaim of the server's data directory. */
    data: `${name}-data`,
    /** CronJob and PersistentVolumeClaim of the backups. */
    backup: `${name}-backup`,
  };
}

/** Labels of the server's pods (and the Service's selector). */
export function serverLabels(mysql: Live<MySQL>): Record<string, string> {
  return {
    "app.kubernetes.io/name": "mysql",
    "app.kubernetes.io/instance": mysql.metadata.name,
    "app.kubernetes.io/component": "database",
  };
}

/** Labels every object made for a MySQL carries (recognised when it is taken back after a Retain deletion). */
export function commonLabels(mysql: Live<MySQL>, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "mysql",
    "app.kubernetes.io/instance": mysql.metadata.name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "mysql-operator",
    [instanceLabel]: mysql.metadata.name,
  };
}
