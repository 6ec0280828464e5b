import type { Cache } from "../cache/cache.ts";
import type { DeepPartial, KubeClient } from "../client/api.ts";
import type { ObjectMeta } from "../types/generated/meta.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";

/**
 * Owned children written with server-side apply: one implementation for `ctx.apply` and declarative children.
 * The desired object names only the fields the controller owns; apply merges them into the live object (fields
 * of other managers stay) and the write is skipped when the cache already holds every one of them.
 */

/** A child as a controller wants it: the fields it owns, with at least a name. */
export type Desired<C extends KubeObject> = DeepPartial<Omit<C, "metadata">> & {
  metadata: Partial<ObjectMeta> & { name: string };
};

/** Every field of `desired` is present and equal in `live` (arrays element-wise, same length). */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === null || typeof desired !== "object")
    return desired === live || (desired === undefined && live === undefined);
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i]));
  }
  if (live === null || typeof live !== "object" || Array.isArray(live)) return false;
  for (const [k, v] of Object.entries(desired)) {
    if (v === undefined) continue;
    if (!isSubset(v, (live as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function keyOf(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? "");
}

/**
 * Whether an owner reference from `child` to `parent` is valid: a cluster-scoped parent may own anything; a
 * namespaced one only objects in its own namespace (the garbage collector would delete any other at once).
 */
export function canOwn(parent: KubeObject, childType: ResourceType, childNamespace: string | undefined): boolean {
  const parentNs = parent.metadata?.namespace;
  return !parentNs || (childType.namespaced && childNamespace === parentNs);
}

/**
 * A deep copy of `desired` ready to apply as a child of `parent`: apiVersion and kind of `type`, the parent's
 * namespace unless another is given (none for cluster-scoped kinds), `labels` and `annotations` added, and the
 * parent as controller owner when the scopes allow it (`owner: "required"` throws when they do not).
 */
export function childObject(
  type: ResourceType,
  desired: object,
  parent: KubeObject,
  parentType: ResourceType,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string>; owner: "required" | "if-possible" },
): KubeObject {
  // A deep copy: the caller's object is never changed. Any object literal is a KubeObject on the wire.
  const obj = structuredClone(desired) as KubeObject;
  obj.metadata ??= {};
  const meta = obj.metadata;
  if (!meta.name) throw new Error(`${type.kind}: metadata.name is required`);
  if (type.namespaced) meta.namespace ??= parent.metadata?.namespace;
  else delete meta.namespace;
  if (extra.labels) meta.labels = { ...meta.labels, ...extra.labels };
  if (extra.annotations) meta.annotations = { ...meta.annotations, ...extra.annotations };
  if (canOwn(parent, type, meta.namespace)) {
    meta.ownerReferences = [
      ...(meta.ownerReferences ?? []).filter((r) => r.uid !== parent.metadata?.uid),
      {
        apiVersion: parentType.apiVersion,
        kind: parentType.kind,
        name: parent.metadata?.name ?? "",
        uid: parent.metadata?.uid ?? "",
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
  } else if (extra.owner === "required") {
    throw new Error(
      `${type.kind} ${keyOf(obj)}: a ${parentType.kind} in namespace ${parent.metadata?.namespace} cannot own it ` +
        "(owner references stay within one namespace); declare it with children(), which tracks it by label",
    );
  }
  return { ...obj, apiVersion: type.apiVersion, kind: type.kind };
}

/**
 * Server-side applies `obj` (force: the controller owns these fields) unless the cached object already has every
 * field of it; returns the live object and whether a write was made.
 */
export async function applyIfChanged<C extends KubeObject>(
  client: KubeClient,
  cache: Cache,
  type: ResourceType<C>,
  obj: DeepPartial<C> & KubeObject,
  fieldManager: string,
  signal?: AbortSignal,
): Promise<{ object: C; wrote: boolean }> {
  const live = cache.get(type, keyOf(obj));
  if (live && isSubset(obj, live)) return { object: live, wrote: false };
  const object = await client.apply(type, obj, { fieldManager, force: true, ...(signal ? { signal } : {}) });
  return { object, wrote: true };
}
