import { appsv1, batchv1, controller, corev1 } from "converge-sdk";
import { MySQL } from "./api.ts";
import { byInstanceLabel } from "./data.ts";
import { observe, setStatus } from "./status.ts";
import { desiredChildren } from "./workload.ts";

/**
 * The `mysql` controller: the server (StatefulSet), its Service and the backup CronJob, declared as children —
 * Converge applies them, puts back what is edited or deleted by hand, prunes the CronJob when the schedule is
 * removed, and deletes them (CronJob first) when the MySQL is deleted. Its status follows the server's readiness
 * and the data the `mysql-data` controller keeps, and records the last successful backup.
 */
export const mysqlController = controller("mysql")
  .for(MySQL)
  .owns(appsv1.StatefulSet)
  .owns(corev1.Service)
  .owns(batchv1.CronJob)
  // Not children of this controller, but its status reads them: the data objects and the backup Jobs.
  .watches(corev1.Secret, byInstanceLabel)
  .watches(corev1.PersistentVolumeClaim, byInstanceLabel)
  .watches(batchv1.Job, byInstanceLabel)
  .children((mysql) => desiredChildren(mysql), {
    status: (status, conditions, report, ctx) =>
      setStatus(status, conditions, ctx.object, observe(ctx.object, report, ctx.cache)),
  });
