import { randomUUID } from "node:crypto";
import type { Registry } from "prom-client";
import type { Cache } from "../cache/cache.ts";
import type { EventHandler, Informer } from "../cache/informer.ts";
import { keyOf } from "../cache/store.ts";
import type { KubeClient, ObjectKey } from "../client/api.ts";
import { ConflictError } from "../client/errors.ts";
import type { QueueObserver } from "../queue/observer.ts";
import type { ReconcileResult } from "../queue/result.ts";
import { WorkQueue } from "../queue/work-queue.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { type ChildrenOptions, type ChildSpec, childLabel, parentOf, reconcileChildren } from "./children.ts";
import { EventRecorder } from "./events.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { detachedRegistry } from "./metrics.ts";
import { controllerOf, groupOf } from "./owners.ts";
import type { Predicate } from "./predicates.ts";
import { parseKey, type ReconcileContext, type Reconciler, TerminalError } from "./reconcile.ts";

/** Priority of objects from an informer's (re)list: live changes overtake a big initial list. */
export const initialListPriority = -100;

export interface ControllerOptions {
  /** Reconciles of different keys at once (default 1; one key never runs twice at once). */
  maxConcurrentReconciles?: number;
  /** Abort a reconcile's signal after this long and count it as an error (default: no timeout). */
  reconcileTimeoutMs?: number;
  /** Per-key retry backoff after errors (default 5 ms doubling to 1000 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

interface Source {
  type: ResourceType;
  /** Maps an event's object to the keys to reconcile. */
  map: (obj: KubeObject) => string[];
  predicates: Predicate[];
  metadataOnly: boolean;
  /** `owns`: children it writes; `watches`: other kinds it only reads (RBAC generation tells them apart). */
  role: "owns" | "watches";
  /** The controller runs without this kind while the apiserver does not serve it. */
  optional: boolean;
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

/** What the manager hands a controller when it is added. */
export interface ControllerDeps {
  client: KubeClient;
  cache: Cache;
  log: Logger;
  events: EventRecorder;
  /** Scope informers to one namespace (default: all). */
  namespace?: string;
  /** How long a child kind's informer may take to list before a reconcile that needs it fails (default 120 s). */
  cacheSyncTimeoutMs?: number;
  observer?: QueueObserver;
  /** Called when a reconcile throws a programming error (TypeError, ReferenceError, RangeError): a "panic". */
  onPanic?: () => void;
  /** Where the controller's own metrics go (the manager's `/metrics`). */
  metrics?: Registry;
}

/**
 * Declares what a controller reconciles: `controller("memcached").for(Memcached).owns(Deployment).reconcile(fn)`.
 * It reads like the sentence it implements; the manager runs the result.
 */
export class ControllerBuilder<T extends KubeObject = KubeObject> {
  private readonly name: string;
  private primary: { type: ResourceType<T>; predicates: Predicate<T>[] } | undefined;
  private readonly sources: Source[] = [];
  private options: ControllerOptions = {};

  constructor(name: string) {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(name)) {
      throw new Error(`controller name "${name}" must be lower-case letters, digits, '.' and '-'`);
    }
    this.name = name;
  }

  /** The kind this controller reconciles; its objects' keys are the requests. */
  for<P extends KubeObject>(type: ResourceType<P>, opts: { predicates?: Predicate<P>[] } = {}): ControllerBuilder<P> {
    const self = this as unknown as ControllerBuilder<P>;
    if (self.primary) throw new Error(`controller ${this.name}: for() was already called`);
    self.primary = { type, predicates: opts.predicates ?? [] };
    return self;
  }

  /**
   * A kind this controller creates: events on such an object reconcile its controller owner (found through
   * the controller ownerReference), so drift and deletion of children are repaired.
   */
  owns<C extends KubeObject>(type: ResourceType<C>, opts: SourceOptions<C> = {}): this {
    const primary = this.requirePrimary("owns");
    const group = primary.type.group;
    const kind = primary.type.kind;
    const ownerNamespaced = primary.type.namespaced;
    this.sources.push({
      type,
      predicates: (opts.predicates ?? []) as Predicate[],
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
    return this;
  }

  /** Any other kind: `map` returns the keys (or object keys) of the primary objects to reconcile. */
  watches<W extends KubeObject>(
    type: ResourceType<W>,
    map: (obj: W) => Array<string | ObjectKey>,
    opts: SourceOptions<W> = {},
  ): this {
    this.requirePrimary("watches");
    this.sources.push({
      type,
      predicates: (opts.predicates ?? []) as Predicate[],
      metadataOnly: opts.metadataOnly ?? false,
      role: "watches",
      optional: opts.optional ?? false,
      map: (obj) =>
        map(obj as W).map((k) => (typeof k === "string" ? k : k.namespace ? `${k.namespace}/${k.name}` : k.name)),
    });
    return this;
  }

  withOptions(options: ControllerOptions): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  reconcile(reconciler: Reconciler<T>): Controller<T> {
    const primary = this.requirePrimary("reconcile");
    return new Controller(this.name, primary, this.sources, this.options, reconciler);
  }

  /**
   * Declarative children instead of a reconcile: `desired` returns the child objects the parent should have, and
   * Converge applies them in dependency order, waits for readiness, prunes the rest, sets the parent's
   * Ready/Progressing/Degraded conditions, and deletes children in reverse order when the parent is deleted.
   */
  children(
    desired: (parent: T, ctx: ReconcileContext<T>) => ChildSpec[] | Promise<ChildSpec[]>,
    options: ChildrenOptions<T> = {},
  ): Controller<T> {
    const primary = this.requirePrimary("children");
    let self: Controller<T> | undefined;
    const built = new Controller<T>(this.name, primary, this.sources, this.options, (_req, ctx) =>
      reconcileChildren(self as Controller<T>, primary.type, desired, options, ctx),
    );
    self = built;
    return built;
  }

  private requirePrimary(what: string): { type: ResourceType<T>; predicates: Predicate<T>[] } {
    if (!this.primary) throw new Error(`controller ${this.name}: call for(type) before ${what}()`);
    return this.primary;
  }
}

/** Starts a controller declaration. */
export function controller(name: string): ControllerBuilder {
  return new ControllerBuilder(name);
}

/** `Component (dapr.io/v1alpha1)`, as logs and probes name a kind. */
function kindOf(informer: Informer<KubeObject>): string {
  return `${informer.type.kind} (${informer.type.apiVersion})`;
}

function passes<X extends KubeObject>(
  predicates: Predicate<X>[],
  event: "create" | "update" | "delete",
  a: X,
  b?: X,
): boolean {
  for (const p of predicates) {
    if (event === "create" && p.create && !p.create(a)) return false;
    if (event === "update" && p.update && !p.update(a, b as X)) return false;
    if (event === "delete" && p.delete && !p.delete(a)) return false;
  }
  return true;
}

/** A declared controller. The manager calls setup() before its cache starts, then start() and stop(). */
export class Controller<T extends KubeObject = KubeObject> {
  readonly name: string;
  readonly forType: ResourceType<T>;
  readonly options: ControllerOptions;
  private readonly primary: { type: ResourceType<T>; predicates: Predicate<T>[] };
  private readonly sources: Source[];
  private readonly reconciler: Reconciler<T>;
  private queue: WorkQueue | undefined;
  private deps: ControllerDeps | undefined;
  private primaryInformer: Informer<T> | undefined;
  /** The informers that must have listed before the first reconcile: the primary kind's and non-optional sources'. */
  private readonly required: Informer<KubeObject>[] = [];
  private stopped = false;
  private readonly cleanups: Array<() => void> = [];
  /** Child kinds watched for the declarative children API, by `apiVersion/kind`. */
  private readonly childWatches = new Map<string, { type: ResourceType; synced: Promise<void> }>();

  constructor(
    name: string,
    primary: { type: ResourceType<T>; predicates: Predicate<T>[] },
    sources: Source[],
    options: ControllerOptions,
    reconciler: Reconciler<T>,
  ) {
    this.name = name;
    this.forType = primary.type;
    this.primary = primary;
    this.sources = sources;
    this.options = options;
    this.reconciler = reconciler;
  }

  /** The kinds this controller reads, with what it does to them (for RBAC generation and docs). */
  get watchedTypes(): Array<{ type: ResourceType; role: "for" | "owns" | "watches" }> {
    return [{ type: this.forType, role: "for" }, ...this.sources.map((s) => ({ type: s.type, role: s.role }))];
  }

  /** Creates the queue and registers the informers and event handlers. */
  setup(deps: ControllerDeps): void {
    if (this.deps) throw new Error(`controller ${this.name} was already added to a manager`);
    this.deps = deps;
    this.queue = new WorkQueue((key, signal) => this.run(key, signal), {
      name: this.name,
      maxConcurrency: this.options.maxConcurrentReconciles ?? 1,
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      ...(this.options.reconcileTimeoutMs ? { timeoutMs: this.options.reconcileTimeoutMs } : {}),
      ...(deps.observer ? { observer: deps.observer } : {}),
    });
    const scope = deps.namespace ? { namespace: deps.namespace } : {};
    const queue = this.queue;
    this.primaryInformer = deps.cache.informer(this.primary.type, scope);
    const preds = this.primary.predicates;
    const forHandler: EventHandler<T> = {
      add: (obj, initial) => {
        if (passes(preds, "create", obj)) queue.add(keyOf(obj), { priority: initial ? initialListPriority : 0 });
      },
      update: (old, obj) => {
        if (passes(preds, "update", old, obj)) queue.add(keyOf(obj));
      },
      delete: (obj) => {
        if (passes(preds, "delete", obj)) queue.add(keyOf(obj));
      },
    };
    this.cleanups.push(this.primaryInformer.addHandler(forHandler));
    this.required.push(this.primaryInformer as unknown as Informer<KubeObject>);
    for (const source of this.sources) {
      const informer = deps.cache.informer(source.type, {
        ...scope,
        ...(source.metadataOnly ? { metadataOnly: true } : {}),
      });
      if (!source.optional) this.required.push(informer);
      const enqueue = (obj: KubeObject, priority = 0) => {
        for (const key of source.map(obj)) queue.add(key, { priority });
      };
      this.cleanups.push(
        informer.addHandler({
          add: (obj, initial) => {
            if (passes(source.predicates, "create", obj)) enqueue(obj, initial ? initialListPriority : 0);
          },
          update: (old, obj) => {
            if (!passes(source.predicates, "update", old, obj)) return;
            enqueue(obj);
            // A changed owner must hear about it too.
            if (controllerOf(old)?.uid !== controllerOf(obj)?.uid) enqueue(old);
          },
          delete: (obj) => {
            if (passes(source.predicates, "delete", obj)) enqueue(obj);
          },
        }),
      );
    }
  }

  /**
   * Makes events of a child kind reach this controller: through the controller owner reference (as owns()) and
   * through the parent annotation that children carry (for children an owner reference cannot point from).
   * Idempotent; resolves once the kind's cache has synced.
   */
  watchChildren(type: ResourceType): Promise<void> {
    const id = `${type.apiVersion}/${type.kind}`;
    const existing = this.childWatches.get(id);
    if (existing) return existing.synced;
    const { deps, queue } = this.requireSetup();
    if (
      !this.sources.some((s) => s.role === "owns" && s.type.apiVersion === type.apiVersion && s.type.kind === type.kind)
    ) {
      // RBAC generation sees declared kinds only: this child would be forbidden under the generated roles.
      deps.log.warn(
        { kind: type.kind, apiVersion: type.apiVersion },
        `child kind not declared: add .owns(${type.kind}) to controller "${this.name}" so that its RBAC covers it`,
      );
    }
    const informer = deps.cache.informer(type, deps.namespace ? { namespace: deps.namespace } : {});
    const enqueue = (obj: KubeObject) => {
      const key = parentOf(obj, this.name);
      if (key) queue.add(key);
    };
    this.cleanups.push(informer.addHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue }));
    const synced = informer.waitForSync(deps.cacheSyncTimeoutMs);
    // A failed sync is not kept: the next reconcile that needs the kind waits for it again (the handler stays).
    synced.catch(() => {
      if (this.childWatches.get(id)?.synced === synced)
        this.childWatches.set(id, { type, synced: informer.whenSynced() });
    });
    this.childWatches.set(id, { type, synced });
    return synced;
  }

  /** The cached children of one kind that belong to the parent with this uid. */
  listChildren(type: ResourceType, parentUid: string): KubeObject[] {
    const { deps } = this.requireSetup();
    try {
      return deps.cache.list(type, {
        labelSelector: `${childLabel.parentUid}=${parentUid}`,
        ...(deps.namespace && type.namespaced ? { namespace: deps.namespace } : {}),
      });
    } catch {
      return []; // a kind never cached here (declared with owns() but not applied) has nothing to list
    }
  }

  /** Child kinds this controller may have made: declared with owns() or applied as children. */
  childTypes(): ResourceType[] {
    const types = new Map<string, ResourceType>();
    // Kinds it only reads (watches) are never its children.
    for (const s of this.sources) if (s.role === "owns") types.set(`${s.type.apiVersion}/${s.type.kind}`, s.type);
    for (const [id, w] of this.childWatches) types.set(id, w.type);
    return [...types.values()];
  }

  /** Runs `fn` when the controller stops (before waiting for running reconciles). */
  onStop(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /**
   * The kinds (described) whose informers have not listed yet, so the controller cannot start: typically kinds the
   * apiserver does not serve yet. Empty once it can run.
   */
  waitingFor(): string[] {
    return [...new Set(this.required.filter((i) => !i.hasSynced).map((i) => kindOf(i)))];
  }

  /**
   * Starts reconciling (the manager calls it once the cache has synced or found kinds not served and, if electing,
   * after leading). While a kind it needs is not served, the controller waits for it, keys queued meanwhile, and
   * starts as soon as every such kind has listed: no restart needed when a CRD is installed late.
   */
  start(): void {
    const { queue, deps } = this.requireSetup();
    const pending = this.required.filter((i) => !i.hasSynced);
    if (pending.length === 0) {
      queue.start();
      return;
    }
    const kinds = this.waitingFor();
    deps.log.warn({ waitingFor: kinds }, "waiting for kinds the apiserver does not serve yet; other controllers run");
    void Promise.all(pending.map((i) => i.whenSynced())).then(() => {
      if (this.stopped) return;
      deps.log.info({ kinds }, "every kind is served now; starting");
      queue.start();
    });
  }

  /** Stops taking work and waits for running reconciles, up to `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<{ unfinished: string[] }> {
    this.stopped = true;
    for (const c of this.cleanups.splice(0)) c();
    if (!this.queue) return { unfinished: [] };
    return this.queue.shutdown({ timeoutMs });
  }

  /** Adds a key by hand (e.g. from a webhook or a timer). */
  enqueue(key: string | ObjectKey, opts: { afterMs?: number } = {}): void {
    const k = typeof key === "string" ? key : key.namespace ? `${key.namespace}/${key.name}` : key.name;
    this.requireSetup().queue.add(k, opts);
  }

  get workQueue(): WorkQueue | undefined {
    return this.queue;
  }

  private requireSetup(): { queue: WorkQueue; deps: ControllerDeps } {
    if (!this.queue || !this.deps) throw new Error(`controller ${this.name} is not added to a manager`);
    return { queue: this.queue, deps: this.deps };
  }

  private async run(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    const { deps } = this.requireSetup();
    const request = parseKey(key);
    const reconcileId = randomUUID();
    const log = (deps.log ?? silentLogger).child({
      ...(request.namespace ? { namespace: request.namespace } : {}),
      name: request.name,
      reconcileID: reconcileId,
    });
    const cache = deps.cache;
    const forType = this.forType;
    const ctx: ReconcileContext<T> = {
      request,
      get object() {
        return cache.get(forType, request);
      },
      client: deps.client,
      cache,
      log,
      events: deps.events,
      metrics: deps.metrics ?? detachedRegistry,
      signal,
      reconcileId,
    };
    try {
      const outcome = await this.reconciler(request, ctx);
      if (outcome && outcome.requeueAfterMs > 0) return { kind: "requeueAfter", ms: outcome.requeueAfterMs };
      return { kind: "done" };
    } catch (error) {
      if (error instanceof TerminalError) {
        log.error({ err: error.message }, "reconcile failed permanently");
        return { kind: "terminal", error };
      }
      if (error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError)
        deps.onPanic?.();
      const err = (error as Error)?.message ?? String(error);
      // A conflict means the object moved on since it was read: routine under concurrent writers, and the retry
      // reads the newer one. Worth a line, not an error.
      if (error instanceof ConflictError) log.info({ err }, "conflict; retrying with the newer object");
      else log.error({ err }, "reconcile failed; retrying with backoff");
      return { kind: "error", error };
    }
  }
}

export { EventRecorder };
