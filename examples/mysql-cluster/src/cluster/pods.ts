import type { corev1 } from "converge-sdk";
import { labels, observed, ordinalOf, revisionAnnotation } from "../names.ts";

/** What the operator's decisions need to know about one database pod. */
export interface PodView {
  name: string;
  ordinal: number;
  uid: string;
  ready: boolean;
  /** When the pod last became ready or unready (its Ready condition's transition). */
  readyChangedAt: string | undefined;
  terminating: boolean;
  failed: boolean;
  role: string | undefined;
  revision: string | undefined;
  /** From the agent's annotations (see names.ts `observed`); undefined when not reported. */
  lagSeconds: number | undefined;
  load: number | undefined;
}

function numberAt(annotations: Record<string, string> | undefined, key: string): number | undefined {
  const raw = annotations?.[key];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export function podView(cluster: string, pod: corev1.Pod): PodView {
  const readyCondition = pod.status?.conditions?.find((c) => c.type === "Ready");
  const annotations = pod.metadata?.annotations;
  const name = pod.metadata?.name ?? "";
  return {
    name,
    ordinal: ordinalOf(cluster, name),
    uid: pod.metadata?.uid ?? "",
    ready: readyCondition?.status === "True" && pod.status?.phase === "Running" && !pod.metadata?.deletionTimestamp,
    readyChangedAt: readyCondition?.lastTransitionTime ?? pod.metadata?.creationTimestamp,
    terminating: pod.metadata?.deletionTimestamp !== undefined,
    failed: pod.status?.phase === "Failed",
    role: pod.metadata?.labels?.[labels.role],
    revision: annotations?.[revisionAnnotation],
    lagSeconds: numberAt(annotations, observed.lag),
    load: numberAt(annotations, observed.load),
  };
}

/** The StatefulSet's pods, by ordinal (pods of other names are left out). */
export function podViews(cluster: string, pods: readonly corev1.Pod[]): PodView[] {
  return pods
    .map((p) => podView(cluster, p))
    .filter((p) => p.ordinal >= 0)
    .sort((a, b) => a.ordinal - b.ordinal);
}
