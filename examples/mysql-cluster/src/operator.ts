import { defineOperator } from "converge-sdk";
import { MySQLBackup } from "./api/backup.ts";
import { MySQLCluster } from "./api/cluster.ts";
import { MySQLRestore } from "./api/restore.ts";
import { backupController } from "./backup/controller.ts";
import { clusterController } from "./cluster/controller.ts";
import { clusterConversion } from "./conversion.ts";
import { alerts, panels } from "./monitoring.ts";
import { restoreController } from "./restore/controller.ts";

/** The MySQL cluster operator as tools see it: what it defines, what it runs, how it is deployed and watched. */
export default defineOperator({
  name: "mysql-cluster-operator",
  version: "0.1.0",
  description:
    "Runs replicated MySQL clusters: a primary and read replicas, rolling upgrades with a backup first and rollback, " +
    "scheduled and on-demand backups, restores, failover, metrics and alerts, and read replicas scaled from load.",
  capabilityLevel: "Auto Pilot",
  definitions: [MySQLCluster, MySQLBackup, MySQLRestore],
  controllers: [clusterController, backupController, restoreController],
  conversions: [clusterConversion],
  extraRules: [
    // Pods: role labels (patch) and rollouts one pod at a time (delete). The restore creates the new cluster and
    // its data volume; backups create their volume.
    { apiGroups: [""], resources: ["pods"], verbs: ["patch", "delete"] },
    { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["create"] },
    { apiGroups: ["db.example.com"], resources: ["mysqlclusters", "mysqlbackups"], verbs: ["create", "delete"] },
    // The storage migration after the CRD's storage version changed (storage-migration.ts).
    { apiGroups: ["storagemigration.k8s.io"], resources: ["storageversionmigrations"], verbs: ["create", "get"] },
    { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get"] },
  ],
  monitoring: { serviceMonitor: true, dashboard: true, panels, alerts },
});
