import type { KubeClient } from "../client/api.ts";
import { mergePatch } from "../client/patch.ts";
import type { Condition } from "../types/generated/meta.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { Conditions } from "./conditions.ts";

/** The status of an object type (what `ctx.status` hands the mutation): `{}` for a type without one. */
export type StatusOf<T> = T extends { status?: infer S } ? NonNullable<S> : Record<string, never>;

/**
 * Changes a copy of the status. `conditions` is bound to the copy's `conditions` list and to the object's
 * generation. Only what the mutation changes is written.
 */
export type StatusMutation<T extends KubeObject> = (
  status: StatusOf<T>,
  conditions: Conditions,
) => void | Promise<void>;

function hasArray(v: unknown): boolean {
  if (Array.isArray(v)) return true;
  return isRecord(v) && Object.values(v).some(hasArray);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The one status writer of the controller layer (`ctx.status`, and the conditions of declarative children): runs
 * `mutate` on a deep copy of `obj.status`, compares, and when something changed sends a JSON merge patch of the
 * difference to the status subresource (or the object, for a kind without one). A patch that replaces a list
 * carries the resourceVersion the copy was made from, which the apiserver checks: a status changed meanwhile by
 * someone else (a foreign condition, another replica) fails with a Conflict and the reconcile runs again on the
 * newer object, instead of the whole `conditions` list silently replacing theirs. Returns the written object, or
 * undefined when nothing changed (no request is made).
 */
export async function writeStatus<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType<T>,
  obj: T,
  mutate: StatusMutation<T>,
  signal?: AbortSignal,
): Promise<T | undefined> {
  const before = (obj as { status?: unknown }).status;
  const draft: Record<string, unknown> = isRecord(before) ? structuredClone(before) : {};
  // The draft is a plain copy of the object's status: its static type is the status type by construction.
  const status = draft as StatusOf<T>;
  await mutate(status, new Conditions(draft as { conditions?: Condition[] }, obj.metadata?.generation));
  const patch = mergePatch({ status: isRecord(before) ? before : {} }, { status: draft });
  if (!patch) return undefined;
  const key = { namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? "" };
  // A merge patch replaces lists whole: one that sends a list (conditions) is conditional on the resourceVersion the
  // list was read at, so that another writer's entries are never dropped. Single fields merge into whatever is
  // there and lose nothing of anyone's: under churn such a patch needs no precondition, and meets no conflict.
  const guarded = hasArray(patch) ? { metadata: { resourceVersion: obj.metadata?.resourceVersion }, ...patch } : patch;
  return client.patch(type, key, "merge", guarded, {
    ...(type.subresources.status ? { subresource: "status" as const } : {}),
    ...(signal ? { signal } : {}),
  });
}
