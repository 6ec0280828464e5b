import type { ObjectKey } from "../client/api.ts";
import type { KubeObject, ObjectOf, ResourceType } from "../types/resource.ts";
import { type ChildrenHost, type ChildrenOptions, type ChildSpec, reconcileChildren } from "./children.ts";
import {
  asLive,
  type BaseContext,
  type ContextDeps,
  extendContext,
  type KeyContext,
  type Live,
  type ObjectContext,
  objectContext,
  type Request,
} from "./context.ts";
import { HandlersBuilder } from "./handlers.ts";
import { controllerOf, groupOf } from "./owners.ts";
import type { Predicate } from "./predicates.ts";
import type { ReconcileOutcome } from "./reconcile.ts";

export interface ControllerOptions {
  /** Reconciles of different keys at once (default 1; one key never runs twice at once). */
  maxConcurrentReconciles?: number;
  /** Abort a reconcile's signal after this long and count it as an error (default: no timeout). */
  reconcileTimeoutMs?: number;
  /** Per-key retry backoff after errors (default 5 ms doubling to 1000 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

/** Options of `owns()` and `watches()`. */
export interface SourceOptions<C extends KubeObject> {
  predicates?: Predicate<C>[];
  /** Cache only the objects' metadata (names, labels, owners...). */
  metadataOnly?: boolean;
  /**
   * Run without this kind while the cluster does not serve it (e.g. a ServiceMonitor where Prometheus Operator may
   * be missing): its events start flowing once its CRD is installed. By default a controller waits for every kind
   * it declares before its first reconcile (and reports itself not ready meanwhile).
   */
  optional?: boolean;
}

/** A kind a controller reads besides its own, and how its events map to the keys to reconcile. */
export interface Source {
  readonly type: ResourceType;
  /** Maps an event's object to the keys to reconcile. */
  readonly map: (obj: KubeObject) => string[];
  readonly predicates: readonly Predicate[];
  readonly metadataOnly: boolean;
  /** `owns`: children it writes; `watches`: other kinds it only reads (RBAC generation tells them apart). */
  readonly role: "owns" | "watches";
  /** The controller runs without this kind while the apiserver does not serve it. */
  readonly optional: boolean;
}

/** What a running controller hands the reconcile of its definition, besides the context every form gets. */
export interface RunContext {
  base: BaseContext;
  deps: ContextDeps;
  host: ChildrenHost;
}

/** The reconcile of one running instance of a definition (its own state: daemons, objects last seen). */
export interface Behaviour {
  reconcile(request: Request, run: RunContext): Promise<ReconcileOutcome> | ReconcileOutcome;
  /** Called when the controller stops. */
  stop?(): void;
}

/**
 * What a controller is, as declared: its kinds, options and the form of its reconcile. Immutable and free of
 * running state, so one definition may be added to several managers (replicas in a test, an operator and its
 * tests); `Manager.add` makes the queue and informers.
 */
export interface ControllerDefinition {
  readonly name: string;
  readonly forType: ResourceType;
  readonly forPredicates: readonly Predicate[];
  readonly sources: readonly Source[];
  readonly options: Readonly<ControllerOptions>;
  /** The kinds this controller reads, with what it does to them (for RBAC generation and docs). */
  readonly watchedTypes: ReadonlyArray<{ type: ResourceType; role: "for" | "owns" | "watches" }>;
  /** Makes the reconcile of one running instance. */
  instantiate(): Behaviour;
}

/** The state a builder carries; each builder method returns a new builder with a new state. */
interface BuilderState {
  readonly name: string;
  readonly primary: { readonly type: ResourceType; readonly predicates: readonly Predicate[] } | undefined;
  readonly sources: readonly Source[];
  readonly options: Readonly<ControllerOptions>;
}

/** A reconcile on the live object; runs only while the object exists. */
export type ObjectReconciler<T extends KubeObject, O extends ResourceType, N extends boolean> = (
  obj: Live<T, N>,
  ctx: ObjectContext<T, O, N>,
) => Promise<ReconcileOutcome | undefined> | ReconcileOutcome | undefined;

/** A reconcile by key: runs for objects that are gone too (`ctx.object` undefined). */
export type KeyReconciler<T extends KubeObject> = (
  request: Request,
  ctx: KeyContext<T>,
) => Promise<ReconcileOutcome | undefined> | ReconcileOutcome | undefined;

function toKey(k: string | ObjectKey): string {
  return typeof k === "string" ? k : k.namespace ? `${k.namespace}/${k.name}` : k.name;
}

/**
 * Declares what a controller reconciles: `controller("memcached").for(Memcached).owns(Deployment).reconcile(fn)`.
 * It reads like the sentence it implements. `T` is the primary kind, `N` its scope when known, `O` the union of
 * the kinds it owns (what `ctx.apply` accepts).
 */
export class ControllerBuilder<
  T extends KubeObject = KubeObject,
  N extends boolean = boolean,
  O extends ResourceType = never,
> {
  private readonly state: BuilderState;

  constructor(state: BuilderState) {
    this.state = state;
  }

  /** The kind this controller reconciles; its objects' keys are the requests. */
  for<P extends KubeObject, PN extends boolean>(
    type: ResourceType<P, PN>,
    opts: { predicates?: Predicate<NoInfer<P>>[] } = {},
  ): ControllerBuilder<P, PN, never> {
    if (this.state.primary) throw new Error(`controller ${this.state.name}: for() was already called`);
    // A predicate of P reads only what P has; the engine hands it objects of P.
    const predicates = (opts.predicates ?? []) as readonly Predicate[];
    return new ControllerBuilder({ ...this.state, primary: { type, predicates } });
  }

  /**
   * A kind this controller creates: events on such an object reconcile its controller owner (found through
   * the controller ownerReference), so drift and deletion of children are repaired.
   */
  owns<R extends ResourceType>(type: R, opts: SourceOptions<ObjectOf<R>> = {}): ControllerBuilder<T, N, O | R> {
    const primary = this.requirePrimary("owns");
    const { group, kind, namespaced: ownerNamespaced } = primary.type;
    return this.with({
      type,
      predicates: (opts.predicates ?? []) as readonly Predicate[],
      metadataOnly: opts.metadataOnly ?? false,
      role: "owns",
      optional: opts.optional ?? false,
      map: (obj) => {
        const ref = controllerOf(obj);
        if (!ref || ref.kind !== kind || groupOf(ref.apiVersion) !== group) return [];
        // A cluster-scoped owner's key is its name, whatever the namespace of its child.
        const ns = ownerNamespaced ? obj.metadata?.namespace : undefined;
        return [ns ? `${ns}/${ref.name}` : ref.name];
      },
    });
  }

  /** Any other kind: `map` returns the keys (or object keys) of the primary objects to reconcile. */
  watches<W extends KubeObject>(
    type: ResourceType<W>,
    map: (obj: NoInfer<W>) => Array<string | ObjectKey>,
    opts: SourceOptions<NoInfer<W>> = {},
  ): ControllerBuilder<T, N, O> {
    this.requirePrimary("watches");
    return this.with({
      type,
      predicates: (opts.predicates ?? []) as readonly Predicate[],
      metadataOnly: opts.metadataOnly ?? false,
      role: "watches",
      optional: opts.optional ?? false,
      // The informer of `type` hands this map objects of W.
      map: (obj) => map(obj as W).map(toKey),
    });
  }

  withOptions(options: ControllerOptions): ControllerBuilder<T, N, O> {
    return new ControllerBuilder({ ...this.state, options: { ...this.state.options, ...options } });
  }

  /**
   * Ends the declaration with a reconcile on the live object: it runs while the object exists (a deleted object's
   * children go with it by owner reference; use `ctx.finalizer` for anything else), with `ctx.status`,
   * `ctx.apply`, `ctx.finalizer` and `ctx.event` bound to it.
   */
  reconcile(fn: ObjectReconciler<T, O, N>): ControllerDefinition {
    const type = this.requirePrimary("reconcile").type as ResourceType<T>;
    return this.define(() => ({
      reconcile: (request, run) => {
        const found = run.base.cache.get(type, request);
        if (!found) return undefined;
        const ctx = objectContext<T, O, N>(run.base, type, asLive(found), run.deps);
        return fn(ctx.object, ctx);
      },
    }));
  }

  /**
   * Ends the declaration with a reconcile by key, for the rare controller that must act after its object is gone
   * (without a finalizer) or reconciles something keyed otherwise.
   */
  reconcileKey(fn: KeyReconciler<T>): ControllerDefinition {
    const type = this.requirePrimary("reconcileKey").type as ResourceType<T>;
    return this.define(() => ({
      reconcile: (request, run) => {
        const cache = run.base.cache;
        return fn(
          request,
          extendContext(run.base, {
            get object() {
              return cache.get(type, request);
            },
          }),
        );
      },
    }));
  }

  /**
   * Declarative children instead of a reconcile: `desired` returns the child objects the parent should have, and
   * Converge applies them in dependency order, waits for readiness, prunes the rest, sets the parent's
   * Ready/Progressing/Degraded conditions, and deletes children in reverse order when the parent is deleted.
   */
  children(
    desired: (parent: Live<T, N>, ctx: ObjectContext<T, O, N>) => ChildSpec[] | Promise<ChildSpec[]>,
    options: ChildrenOptions<T, O, N> = {},
  ): ControllerDefinition {
    const type = this.requirePrimary("children").type as ResourceType<T>;
    const name = this.state.name;
    return this.define(() => ({
      reconcile: (request, run) => {
        const found = run.base.cache.get(type, request);
        if (!found) return undefined; // gone: owned children are garbage-collected; the finalizer handled the rest
        const ctx = objectContext<T, O, N>(run.base, type, asLive(found), run.deps);
        return reconcileChildren(run.host, name, type, desired, options, ctx);
      },
    }));
  }

  /**
   * Ends the declaration with handlers, as kopf users write them: `.handlers((on) => on.onCreate(fn).onUpdate(fn)
   * .onDelete(fn).timer(5_000, fn))`. They run on the same engine, with the same context as `reconcile`.
   */
  handlers(declare: (on: HandlersBuilder<T, O, N>) => HandlersBuilder<T, O, N>): ControllerDefinition {
    const type = this.requirePrimary("handlers").type as ResourceType<T>;
    const declared = declare(new HandlersBuilder<T, O, N>());
    const name = this.state.name;
    return this.define(() => declared.instantiate(name, type));
  }

  private with(source: Source): ControllerBuilder<T, N, O> {
    return new ControllerBuilder({ ...this.state, sources: [...this.state.sources, source] });
  }

  private requirePrimary(what: string): { type: ResourceType; predicates: readonly Predicate[] } {
    if (!this.state.primary) throw new Error(`controller ${this.state.name}: call for(type) before ${what}()`);
    return this.state.primary;
  }

  private define(instantiate: () => Behaviour): ControllerDefinition {
    const { name, sources, options } = this.state;
    const primary = this.requirePrimary("an ending");
    return Object.freeze({
      name,
      forType: primary.type,
      forPredicates: primary.predicates,
      sources,
      options,
      watchedTypes: [
        { type: primary.type, role: "for" as const },
        ...sources.map((s) => ({ type: s.type, role: s.role })),
      ],
      instantiate,
    });
  }
}

/** Starts a controller declaration. */
export function controller(name: string): ControllerBuilder {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(name)) {
    throw new Error(`controller name "${name}" must be lower-case letters, digits, '.' and '-'`);
  }
  return new ControllerBuilder({ name, primary: undefined, sources: [], options: {} });
}
