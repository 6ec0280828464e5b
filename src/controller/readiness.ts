import type { KubeObject } from "../types/resource.ts";

/** Whether a child is ready, and if not, why (shown in the parent's conditions). */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

export type ReadyCheck<C extends KubeObject = KubeObject> = (obj: C) => boolean | Readiness;

interface Conditioned {
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

function condition(obj: KubeObject, type: string): { status: string; reason?: string; message?: string } | undefined {
  return (obj as Conditioned).status?.conditions?.find((c) => c.type === type);
}

type Workload = KubeObject & {
  spec?: { replicas?: number };
  status?: Record<string, unknown> & { observedGeneration?: number };
};

function observed(obj: Workload): boolean {
  return (obj.status?.observedGeneration ?? 0) >= (obj.metadata?.generation ?? 0);
}

function count(obj: Workload, field: string): number {
  const v = obj.status?.[field];
  return typeof v === "number" ? v : 0;
}

const checks: Record<string, ReadyCheck> = {
  "apps/Deployment": (obj) => {
    const d = obj as Workload;
    const want = d.spec?.replicas ?? 1;
    if (!observed(d)) return { ready: false, reason: "the Deployment controller has not seen the latest spec" };
    if (count(d, "updatedReplicas") < want)
      return { ready: false, reason: `${count(d, "updatedReplicas")}/${want} pods updated` };
    if (count(d, "availableReplicas") < want)
      return { ready: false, reason: `${count(d, "availableReplicas")}/${want} pods available` };
    return true;
  },
  "apps/StatefulSet": (obj) => {
    const s = obj as Workload;
    const want = s.spec?.replicas ?? 1;
    if (!observed(s)) return { ready: false, reason: "the StatefulSet controller has not seen the latest spec" };
    if (count(s, "readyReplicas") < want)
      return { ready: false, reason: `${count(s, "readyReplicas")}/${want} pods ready` };
    const status = s.status ?? {};
    if (status.updateRevision && status.currentRevision !== status.updateRevision) {
      return { ready: false, reason: "rolling out a new revision" };
    }
    return true;
  },
  "apps/DaemonSet": (obj) => {
    const d = obj as Workload;
    const want = count(d, "desiredNumberScheduled");
    return observed(d) && count(d, "numberReady") >= want
      ? true
      : { ready: false, reason: `${count(d, "numberReady")}/${want} pods ready` };
  },
  "batch/Job": (obj) => {
    if (condition(obj, "Complete")?.status === "True") return true;
    if (condition(obj, "Failed")?.status === "True")
      return { ready: false, reason: `the Job failed: ${condition(obj, "Failed")?.message ?? ""}` };
    return { ready: false, reason: "the Job has not completed" };
  },
  "/PersistentVolumeClaim": (obj) => {
    const phase = (obj as { status?: { phase?: string } }).status?.phase;
    return phase === "Bound" ? true : { ready: false, reason: `the claim is ${phase ?? "Pending"}` };
  },
  "/Service": (obj) => {
    const svc = obj as { spec?: { type?: string }; status?: { loadBalancer?: { ingress?: unknown[] } } };
    if (svc.spec?.type !== "LoadBalancer") return true;
    return svc.status?.loadBalancer?.ingress?.length ? true : { ready: false, reason: "no load balancer address yet" };
  },
  "/Pod": (obj) =>
    condition(obj, "Ready")?.status === "True" ? true : { ready: false, reason: "the pod is not Ready" },
  "apiextensions.k8s.io/CustomResourceDefinition": (obj) =>
    condition(obj, "Established")?.status === "True" ? true : { ready: false, reason: "the CRD is not established" },
};

/**
 * The built-in readiness of a kind: workloads by their rollout status, Jobs by completion, claims when bound,
 * LoadBalancer Services when they have an address, anything with a `Ready` condition by it, and anything else
 * as soon as it exists.
 */
export function builtinReadiness(group: string, kind: string): ReadyCheck {
  const check = checks[`${group}/${kind}`];
  if (check) return check;
  return (obj) => {
    const ready = condition(obj, "Ready");
    if (!ready) return true;
    return ready.status === "True" ? true : { ready: false, reason: ready.message || ready.reason || "not Ready" };
  };
}

export function readiness(result: boolean | Readiness): Readiness {
  return typeof result === "boolean" ? { ready: result } : result;
}
