import type { ObjectKey } from "../client/api.ts";
import type { KubeObject } from "../types/resource.ts";

/**
 * A map for `watches()`: an object's events reconcile the primary object named by its label `label`, in the
 * object's namespace — if it carries every label of `only` too (e.g. the managed-by label of this operator).
 * `.watches(corev1.Pod, byLabel("app.kubernetes.io/instance", { "app.kubernetes.io/managed-by": "me" }))`
 */
export function byLabel(label: string, only: Record<string, string> = {}): (obj: KubeObject) => ObjectKey[] {
  const required = Object.entries(only);
  return (obj) => {
    const labels = obj.metadata?.labels ?? {};
    const name = labels[label];
    if (!name || required.some(([k, v]) => labels[k] !== v)) return [];
    return [{ namespace: obj.metadata?.namespace, name }];
  };
}
