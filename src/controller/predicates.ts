import type { KubeObject } from "../types/resource.ts";

/**
 * Filters on the events that reach a controller's queue. A missing method lets that kind of event through.
 * Predicates only save work: reconciles stay level-based and must be correct whichever events pass.
 */
export interface Predicate<T extends KubeObject = KubeObject> {
  create?(obj: T): boolean;
  update?(oldObj: T, newObj: T): boolean;
  delete?(obj: T): boolean;
}

const sameRecord = (a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean => {
  const ak = Object.keys(a ?? {});
  if (ak.length !== Object.keys(b ?? {}).length) return false;
  return ak.every((k) => a?.[k] === b?.[k]);
};

/** Updates pass only when metadata.generation changed: spec changes, not status or metadata writes. */
export const generationChanged: Predicate = {
  update: (o, n) => o.metadata?.generation !== n.metadata?.generation,
};

export const labelsChanged: Predicate = {
  update: (o, n) => !sameRecord(o.metadata?.labels, n.metadata?.labels),
};

export const annotationsChanged: Predicate = {
  update: (o, n) => !sameRecord(o.metadata?.annotations, n.metadata?.annotations),
};

/** Updates that changed the resourceVersion (drops resync replays of unchanged objects). */
export const resourceVersionChanged: Predicate = {
  update: (o, n) => o.metadata?.resourceVersion !== n.metadata?.resourceVersion,
};

/** Lets an event through when any predicate does. */
export function anyOf<T extends KubeObject>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.some((p) => p.create?.(o) ?? true),
    update: (o, n) => ps.some((p) => p.update?.(o, n) ?? true),
    delete: (o) => ps.some((p) => p.delete?.(o) ?? true),
  };
}

/** Lets an event through only when every predicate does. */
export function allOf<T extends KubeObject>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.every((p) => p.create?.(o) ?? true),
    update: (o, n) => ps.every((p) => p.update?.(o, n) ?? true),
    delete: (o) => ps.every((p) => p.delete?.(o) ?? true),
  };
}

/** A predicate from one function applied to the object of every event (the new one for updates). */
export function filter<T extends KubeObject>(fn: (obj: T) => boolean): Predicate<T> {
  return { create: fn, update: (_o, n) => fn(n), delete: fn };
}
