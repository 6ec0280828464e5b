import type { Registry } from "prom-client";
import type { Cache } from "../cache/cache.ts";
import type { KubeClient, ObjectKey } from "../client/api.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import type { ObjectMeta } from "../types/generated/meta.v1.ts";
import type { KubeObject, ObjectOf, ResourceType } from "../types/resource.ts";
import { applyIfChanged, childObject, type Desired } from "./apply.ts";
import type { EventRecorder } from "./events.ts";
import { hasFinalizer, isDeleting } from "./finalizers.ts";
import type { Logger } from "./logger.ts";
import { type StatusMutation, writeStatus } from "./status.ts";

/** What a reconcile is asked to converge: one object, by key. Never an event: reconciles are level-based. */
export interface Request {
  /** `namespace/name`, or `name` for cluster-scoped kinds. */
  key: string;
  namespace: string | undefined;
  name: string;
}

/** Namespace of a live object: always there for a namespaced kind, never for a cluster-scoped one. */
type ScopedNamespace<N extends boolean> = N extends true ? { namespace: string } : { namespace?: undefined };

/**
 * An object as the apiserver holds it: what the apiserver always sets on a stored object is required, so that a
 * reconcile reads `obj.metadata.name` with no `?.` and no `?? ""`. `N` is the kind's scope when its ResourceType
 * knows it (`ResourceType<T, true>`): then `metadata.namespace` is a string.
 */
export type Live<T extends KubeObject, N extends boolean = boolean> = T & {
  metadata: ObjectMeta & {
    name: string;
    uid: string;
    resourceVersion: string;
    generation: number;
  } & ScopedNamespace<N>;
};

/** The Live type of a ResourceType's objects. */
export type LiveOf<R> = R extends ResourceType<infer T, infer N> ? Live<T, N> : never;

/** What every reconcile gets, whatever its form. */
export interface BaseContext {
  readonly request: Request;
  readonly client: KubeClient;
  /** Reads from the shared informers; they see this operator's own writes at once. */
  readonly cache: Cache;
  /** Carries `controller`, `namespace`, `name` and `reconcileID`. */
  readonly log: Logger;
  /** The manager's metrics registry, for the controller's own metrics (`metricCounter(ctx.metrics, ...)`). */
  readonly metrics: Registry;
  /** Aborted when the reconcile times out, the manager shuts down or leadership is lost. */
  readonly signal: AbortSignal;
  readonly reconcileId: string;
}

/** The context of a key-based reconcile (`reconcileKey`): the object may be gone. */
export interface KeyContext<T extends KubeObject = KubeObject> extends BaseContext {
  /** The primary object as the cache has it now (undefined once it is gone). */
  readonly object: T | undefined;
}

/** Options of `ctx.event`. */
export interface EventOptions {
  /** What was done (events.k8s.io `action`, default the reason). */
  action?: string;
}

/**
 * The context of a reconcile on the live object (`.reconcile(async (obj, ctx) => ...)`), with the writes a
 * controller makes about its object bound to it. `O` is the union of the kinds declared with `owns()`:
 * `ctx.apply` of any other kind does not compile.
 */
export interface ObjectContext<
  T extends KubeObject = KubeObject,
  O extends ResourceType = ResourceType,
  N extends boolean = boolean,
> extends BaseContext {
  /** The primary object, as this reconcile last read or wrote it (each `status`/`finalizer` write moves it on). */
  readonly object: Live<T, N>;
  /**
   * Runs `mutate` on a copy of the status and writes what changed to the status subresource; no request when
   * nothing did. A write that replaces a list (conditions) is conditional on the object's resourceVersion: a status
   * changed meanwhile by another writer makes it fail with a Conflict, and the reconcile runs again.
   * `conditions.set(type, ok, reason, message)` fills observedGeneration, and lastTransitionTime only on a
   * transition.
   */
  status(mutate: StatusMutation<T>): Promise<Live<T, N>>;
  /**
   * Server-side applies an owned child (a kind declared with `owns()`): the controller reference to this object,
   * the parent's namespace unless given, and this controller as field manager are set; nothing is written when the
   * cache already holds every field given. Returns the child as it is now.
   */
  apply<R extends O>(type: R, desired: Desired<ObjectOf<R>>): Promise<LiveOf<R>>;
  /**
   * The finalizer flow in one call: while the object lives, makes sure it carries `name` and answers "ready";
   * once it is being deleted, runs `cleanup` (at least once: again if the operator dies before the finalizer is
   * removed), removes the finalizer and answers "deleting" — stop the reconcile there.
   */
  finalizer(name: string, cleanup: () => void | Promise<void>): Promise<"ready" | "deleting">;
  /** Records an Event about this object (aggregated into a series when repeated; never fails the reconcile). */
  event(type: "Normal" | "Warning", reason: string, message: string, options?: EventOptions): void;
}

/** What the runtime hands the context builder, besides the reconcile's base context. */
export interface ContextDeps {
  events: EventRecorder;
  /** The controller's name: field manager of the children it applies. */
  controller: string;
}

export function keyFor(obj: KubeObject): ObjectKey {
  return { namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? "" };
}

/** Patches the finalizer list of `obj`, conditional on its resourceVersion. */
function patchFinalizers<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType<T>,
  obj: T,
  finalizers: string[],
  signal: AbortSignal,
): Promise<T> {
  return client.patch(
    type,
    keyFor(obj),
    "merge",
    { metadata: { resourceVersion: obj.metadata?.resourceVersion, finalizers: finalizers.length ? finalizers : null } },
    { signal },
  );
}

/**
 * Removes `name` from a deleting object whose clean-up ran. A conflict (the object moved on: another finalizer
 * went, a label changed) reads it again and retries the removal alone, so that the clean-up does not run twice
 * for a write that merely raced.
 */
async function removeFinalizer<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType<T>,
  obj: T,
  name: string,
  signal: AbortSignal,
): Promise<T | undefined> {
  let current: T = obj;
  for (let attempt = 1; ; attempt++) {
    try {
      return await patchFinalizers(
        client,
        type,
        current,
        (current.metadata?.finalizers ?? []).filter((f) => f !== name),
        signal,
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (attempt >= 5 || !isConflict(err)) throw err;
      try {
        current = await client.get(type, keyFor(obj), { signal });
      } catch (getErr) {
        if (isNotFound(getErr)) return undefined;
        throw getErr;
      }
      if (current.metadata?.uid !== obj.metadata?.uid || !hasFinalizer(current, name)) return current;
    }
  }
}

/**
 * A stored object as Live: the apiserver always sets name, uid and resourceVersion. A kind without generation
 * tracking (a ConfigMap) has no `generation`: it reads as 0, on a shallow copy (cached objects are never changed).
 */
export function asLive<T extends KubeObject>(obj: T): Live<T> {
  const m = obj.metadata;
  if (m?.generation !== undefined) return obj as Live<T>;
  return { ...obj, metadata: { ...m, generation: 0 } } as Live<T>;
}

/** Builds the context of a reconcile on `obj`. */
export function objectContext<T extends KubeObject, O extends ResourceType, N extends boolean>(
  base: BaseContext,
  type: ResourceType<T>,
  obj: Live<T>,
  deps: ContextDeps,
): ObjectContext<T, O, N> {
  // The object came from the informer of `type`, whose scope N describes.
  let current = obj as Live<T, N>;
  const advance = (written: T | undefined) => {
    if (written?.metadata?.uid === current.metadata.uid) current = asLive(written) as Live<T, N>;
  };
  return extendContext<Omit<ObjectContext<T, O, N>, keyof BaseContext>>(base, {
    get object() {
      return current;
    },
    async status(mutate) {
      // The object is the cache's (whole unless a transform or a metadata-only informer cut it) or a write's answer.
      const whole = current !== obj || base.cache.holdsWhole(type, keyFor(current));
      advance(await writeStatus(base.client, type, current, mutate, base.signal, { whole }));
      return current;
    },
    async apply(childType, desired) {
      const child = childObject(childType, desired, current, type, { owner: "required" });
      const { object } = await applyIfChanged(base.client, base.cache, childType, child, deps.controller, base.signal);
      return asLive(object) as LiveOf<typeof childType>;
    },
    async finalizer(name, cleanup) {
      if (!isDeleting(current)) {
        if (!hasFinalizer(current, name)) {
          const finalizers = [...(current.metadata.finalizers ?? []), name];
          advance(await patchFinalizers(base.client, type, current, finalizers, base.signal));
        }
        return "ready";
      }
      if (!hasFinalizer(current, name)) return "deleting";
      await cleanup();
      advance(await removeFinalizer(base.client, type, current, name, base.signal));
      return "deleting";
    },
    event(eventType, reason, message, options = {}) {
      deps.events.event(current, eventType, reason, message, options.action ?? reason, type);
    },
  });
}

/**
 * A context made of `base` and `extra`, getters kept as getters: spreading would call the base's lazy getters (the
 * logger, the reconcile id) and freeze extra's (the object, which moves on with each write).
 */
export function extendContext<X extends object>(base: BaseContext, extra: X): BaseContext & X {
  const ctx: BaseContext = {
    request: base.request,
    client: base.client,
    cache: base.cache,
    metrics: base.metrics,
    signal: base.signal,
    get log() {
      return base.log;
    },
    get reconcileId() {
      return base.reconcileId;
    },
  };
  // The descriptors of `extra` carry its getters over; the result has both shapes by construction.
  return Object.defineProperties(ctx, Object.getOwnPropertyDescriptors(extra)) as BaseContext & X;
}
