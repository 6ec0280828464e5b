import {
  appsv1,
  type Condition,
  controller,
  corev1,
  handleFinalizer,
  metricCounter,
  setCondition,
  setControllerReference,
} from "converge-sdk";
import { Memcached } from "./api.ts";

const finalizer = "cache.example.com/finalizer";

/** The labels of a Memcached's pods: how its Deployment selects them and how their events find their Memcached. */
export const podLabels = (m: Memcached): Record<string, string> => ({
  "app.kubernetes.io/name": "memcached",
  "app.kubernetes.io/instance": m.metadata?.name ?? "",
  "app.kubernetes.io/managed-by": "memcached-operator",
});

/** The Deployment a Memcached wants. */
export function deploymentFor(m: Memcached): appsv1.Deployment {
  const labels = podLabels(m);
  return {
    metadata: { name: m.metadata?.name, namespace: m.metadata?.namespace, labels },
    spec: {
      replicas: m.spec.size,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 1001, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "memcached",
              image: `memcached:${m.spec.version}`,
              command: ["memcached", "--memory-limit=64", "-o", "modern", "-v"],
              ports: [{ name: "memcached", containerPort: 11211 }],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      },
    },
  };
}

/** Available / Progressing / Degraded from the Deployment as it is. */
export function conditionsFor(m: Memcached, d: appsv1.Deployment | undefined): MemcachedConditions {
  const conditions = structuredClone(m.status?.conditions ?? []) as Condition[];
  const generation = m.metadata?.generation;
  const want = m.spec.size;
  const available = d?.status?.availableReplicas ?? 0;
  const current = d !== undefined && (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const failure = d?.status?.conditions?.find(
    (c) =>
      (c.type === "ReplicaFailure" && c.status === "True") ||
      (c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded"),
  );
  const done = current && available === want && (d?.status?.updatedReplicas ?? 0) === want;
  const set = (type: string, ok: boolean, reason: string, message: string) =>
    setCondition(conditions, {
      type,
      status: ok ? "True" : "False",
      reason,
      message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
  set("Available", done, done ? "Available" : "Unavailable", `${available}/${want} pods available`);
  set(
    "Progressing",
    !done && !failure,
    done ? "Stable" : failure ? "Stalled" : "Scaling",
    done ? "up to date" : `rolling out to ${want} pods`,
  );
  set("Degraded", failure !== undefined, failure?.reason ?? "AsExpected", failure?.message ?? "");
  return conditions as MemcachedConditions;
}

type MemcachedConditions = NonNullable<NonNullable<Memcached["status"]>["conditions"]>;

/**
 * Memcached → a Deployment of `spec.size` pods of `memcached:<spec.version>`; `status.nodes` are its pods'
 * names; a finalizer runs cleanup before the Memcached goes (the Deployment itself goes with it, by owner
 * reference). Each reconcile is counted per Memcached in `memcached_reconciles_total`.
 */
export const memcachedController = () =>
  controller("memcached")
    .for(Memcached)
    .owns(appsv1.Deployment)
    // Pods are ReplicaSets' children: their labels say which Memcached they serve. Metadata is all it needs.
    .watches(
      corev1.Pod,
      (pod) => {
        const l = pod.metadata?.labels ?? {};
        const name = l["app.kubernetes.io/instance"];
        return l["app.kubernetes.io/managed-by"] === "memcached-operator" && name
          ? [{ namespace: pod.metadata?.namespace, name }]
          : [];
      },
      { metadataOnly: true },
    )
    .reconcile(async (req, ctx) => {
      const found = ctx.object;
      if (!found) return;
      metricCounter(ctx.metrics, {
        name: "memcached_reconciles_total",
        help: "Reconciles of each Memcached.",
        labelNames: ["namespace", "name"],
      }).inc({ namespace: req.namespace ?? "", name: req.name });

      const { state, object: m } = await handleFinalizer(ctx.client, Memcached, found, finalizer, async () => {
        ctx.log.info("cleaning up before deletion");
        ctx.events.event(found, "Normal", "Finalizing", "cleanup before deletion done", "Finalize");
      });
      if (state === "deleting") return;

      const desired = deploymentFor(m);
      setControllerReference(m, desired, Memcached);
      await ctx.client.createOrPatch(appsv1.Deployment, { namespace: req.namespace, name: req.name }, (d) => {
        d.metadata = { ...d.metadata, labels: { ...d.metadata?.labels, ...desired.metadata?.labels } };
        d.metadata.ownerReferences = desired.metadata?.ownerReferences;
        d.spec = { ...d.spec, ...desired.spec } as appsv1.DeploymentSpec;
      });

      const deployment = ctx.cache.get(appsv1.Deployment, { namespace: req.namespace, name: req.name });
      const nodes = ctx.cache
        .list(corev1.Pod, { namespace: req.namespace, labelSelector: `app.kubernetes.io/instance=${req.name}` })
        .filter((p) => p.metadata?.labels?.["app.kubernetes.io/managed-by"] === "memcached-operator")
        .map((p) => p.metadata?.name ?? "")
        .sort();
      const status = { nodes, conditions: conditionsFor(m, deployment) };
      if (
        JSON.stringify(status) !==
        JSON.stringify({ nodes: m.status?.nodes ?? [], conditions: m.status?.conditions ?? [] })
      ) {
        await ctx.client.updateStatus(Memcached, { ...m, status });
      }
    });
