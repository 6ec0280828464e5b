import { appsv1, byLabel, type Conditions, controller, corev1, metricCounter } from "converge-sdk";
import { Memcached } from "./api.ts";
import { deploymentFor, instance, managedBy, podLabels } from "./deployment.ts";

const finalizer = "cache.example.com/finalizer";
const reconciles = {
  name: "memcached_reconciles_total",
  help: "Reconciles of each Memcached.",
  labelNames: ["namespace", "name"],
};

/** Available / Progressing / Degraded from the Deployment as it is. */
export function setConditions(conditions: Conditions, want: number, d: appsv1.Deployment): void {
  const { availableReplicas = 0, updatedReplicas = 0, observedGeneration = 0, conditions: own = [] } = d.status ?? {};
  const failure = own.find((c) =>
    c.type === "ReplicaFailure" ? c.status === "True" : c.reason === "ProgressDeadlineExceeded",
  );
  const done =
    observedGeneration >= (d.metadata?.generation ?? 0) && availableReplicas === want && updatedReplicas === want;
  const progress = done ? "Stable" : failure ? "Stalled" : "Scaling";
  conditions.set("Available", done, done ? "Available" : "Unavailable", `${availableReplicas}/${want} pods available`);
  conditions.set("Progressing", !done && !failure, progress, done ? "up to date" : `rolling out to ${want} pods`);
  conditions.set("Degraded", failure !== undefined, failure?.reason ?? "AsExpected", failure?.message ?? "");
}

/**
 * Memcached → a Deployment of `spec.size` pods of `memcached:<spec.version>`; `status.nodes` are its pods' names; a
 * finalizer runs cleanup before the Memcached goes (the Deployment goes with it, by owner reference). Reconciles
 * are counted per Memcached in `memcached_reconciles_total`. Pods are watched (metadata only) through their labels.
 */
export const memcachedController = controller("memcached")
  .for(Memcached)
  .owns(appsv1.Deployment)
  .watches(corev1.Pod, byLabel(instance, managedBy), { metadataOnly: true })
  .reconcile(async (m, ctx) => {
    metricCounter(ctx.metrics, reconciles).inc({ namespace: m.metadata.namespace, name: m.metadata.name });
    const cleanup = () => ctx.event("Normal", "Finalizing", "cleanup before deletion done", { action: "Finalize" });
    if ((await ctx.finalizer(finalizer, cleanup)) === "deleting") return;
    const deployment = await ctx.apply(appsv1.Deployment, deploymentFor(m));
    const pods = ctx.cache.list(corev1.Pod, { namespace: m.metadata.namespace, matchLabels: podLabels(m) });
    await ctx.status((status, conditions) => {
      status.nodes = pods.map((p) => p.metadata?.name ?? "").sort();
      setConditions(conditions, m.spec.size, deployment);
    });
  });
