import type { KubeObject, ResourceType } from "../types/resource.ts";

/** An ownerReference (the fields the apiserver needs). */
export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

function ownerOf(owner: KubeObject, type?: ResourceType): OwnerRef {
  const m = owner.metadata;
  const apiVersion = owner.apiVersion ?? type?.apiVersion;
  const kind = owner.kind ?? type?.kind;
  if (!m?.name || !m.uid || !apiVersion || !kind) {
    throw new Error("an owner needs apiVersion, kind, metadata.name and metadata.uid (read it from the API first)");
  }
  return { apiVersion, kind, name: m.name, uid: m.uid };
}

/**
 * Makes `owner` the controller of `child` (in place): the garbage collector deletes the child with its owner, and
 * `owns()` maps the child's events to the owner. Fails if another object already controls the child, or if a
 * namespaced owner would own an object in another namespace (the garbage collector would delete it at once).
 */
export function setControllerReference<C extends KubeObject>(owner: KubeObject, child: C, ownerType?: ResourceType): C {
  const ref = ownerOf(owner, ownerType);
  const ownerNs = owner.metadata?.namespace;
  if (ownerNs && child.metadata?.namespace && child.metadata.namespace !== ownerNs) {
    throw new Error(`a namespaced owner (${ownerNs}) cannot own an object in namespace ${child.metadata.namespace}`);
  }
  if (ownerNs && child.metadata && !child.metadata.namespace) {
    throw new Error("a namespaced owner cannot own a cluster-scoped object; track it by label and a finalizer");
  }
  child.metadata ??= {};
  const refs = child.metadata.ownerReferences ?? [];
  const other = refs.find((r) => r.controller && r.uid !== ref.uid);
  if (other) throw new Error(`${child.metadata.name} is already controlled by ${other.kind} ${other.name}`);
  child.metadata.ownerReferences = [
    ...refs.filter((r) => r.uid !== ref.uid),
    { ...ref, controller: true, blockOwnerDeletion: true },
  ];
  return child;
}

/** Adds a non-controller owner reference (in place), replacing an existing one to the same owner. */
export function setOwnerReference<C extends KubeObject>(owner: KubeObject, child: C, ownerType?: ResourceType): C {
  const ref = ownerOf(owner, ownerType);
  child.metadata ??= {};
  const refs = child.metadata.ownerReferences ?? [];
  const existing = refs.find((r) => r.uid === ref.uid);
  child.metadata.ownerReferences = [
    ...refs.filter((r) => r.uid !== ref.uid),
    { ...ref, ...(existing?.controller ? { controller: true, blockOwnerDeletion: true } : {}) },
  ];
  return child;
}

/** The controller owner reference of an object, if any. */
export function controllerOf(obj: KubeObject): OwnerRef | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller);
}

/** Group of an apiVersion (`apps/v1` → `apps`, `v1` → ``). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
