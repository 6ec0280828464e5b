import type { KubeClient } from "../client/api.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** Whether the object is being deleted (deletionTimestamp set; finalizers hold it). */
export function isDeleting(obj: KubeObject): boolean {
  return Boolean(obj.metadata?.deletionTimestamp);
}

/**
 * The finalizer flow in one call. While the object lives, makes sure it carries `finalizer`; once it is being
 * deleted, runs `cleanup` and then removes the finalizer so the deletion completes. Returns `deleting` when the
 * object is on its way out (the reconcile should stop there) and `live` otherwise.
 *
 * The finalizer list is written with a merge patch that carries the resourceVersion it was computed from, which the
 * apiserver treats as a precondition: a concurrent change fails with a Conflict (and the reconcile is retried)
 * instead of dropping another controller's finalizer.
 */
export async function handleFinalizer<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType<T>,
  obj: T,
  finalizer: string,
  cleanup: () => Promise<void>,
): Promise<{ state: "live" | "deleting"; object: T }> {
  const key = { namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? "" };
  const finalizers = obj.metadata?.finalizers ?? [];
  if (!isDeleting(obj)) {
    if (finalizers.includes(finalizer)) return { state: "live", object: obj };
    const object = await client.patch(type, key, "merge", {
      metadata: { resourceVersion: obj.metadata?.resourceVersion, finalizers: [...finalizers, finalizer] },
    });
    return { state: "live", object };
  }
  if (!finalizers.includes(finalizer)) return { state: "deleting", object: obj };
  await cleanup();
  const remaining = finalizers.filter((f) => f !== finalizer);
  const object = await client.patch(type, key, "merge", {
    metadata: { resourceVersion: obj.metadata?.resourceVersion, finalizers: remaining.length ? remaining : null },
  });
  return { state: "deleting", object };
}
