import { randomUUID } from "node:crypto";
import type { Registry } from "prom-client";
import type { Cache } from "../cache/cache.ts";
import type { Informer } from "../cache/informer.ts";
import { keyOf } from "../cache/store.ts";
import type { KubeClient, ObjectKey } from "../client/api.ts";
import { ConflictError } from "../client/errors.ts";
import type { QueueObserver } from "../queue/observer.ts";
import type { ReconcileResult } from "../queue/result.ts";
import { WorkQueue } from "../queue/work-queue.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import type { Behaviour, ControllerDefinition } from "./builder.ts";
import { type ChildrenHost, childLabel, parentOf } from "./children.ts";
import type { BaseContext, ContextDeps } from "./context.ts";
import type { EventRecorder } from "./events.ts";
import type { Logger } from "./logger.ts";
import { detachedRegistry } from "./metrics.ts";
import { controllerOf } from "./owners.ts";
import type { Predicate } from "./predicates.ts";
import { parseKey, TerminalError } from "./reconcile.ts";

/** Priority of objects from an informer's (re)list: live changes overtake a big initial list. */
export const initialListPriority = -100;

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

/** `Component (dapr.io/v1alpha1)`, as logs and probes name a kind. */
function kindOf(informer: Informer<KubeObject>): string {
  return `${informer.type.kind} (${informer.type.apiVersion})`;
}

function passes<X extends KubeObject>(
  predicates: readonly Predicate<X>[],
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

/**
 * A running controller: the queue, informers and event handlers of one ControllerDefinition in one manager.
 * `Manager.add` makes it; the manager starts and stops it.
 */
export class Controller {
  readonly name: string;
  readonly definition: ControllerDefinition;
  private readonly queue: WorkQueue;
  private readonly deps: ControllerDeps;
  private readonly behaviour: Behaviour;
  /** The informers that must have listed before the first reconcile: the primary kind's and non-optional sources'. */
  private readonly required: Informer<KubeObject>[] = [];
  private stopped = false;
  private readonly cleanups: Array<() => void> = [];
  /** Child kinds watched for the declarative children API, by `apiVersion/kind`. */
  private readonly childWatches = new Map<string, { type: ResourceType; synced: Promise<void> }>();
  private readonly host: ChildrenHost;
  private readonly contextDeps: ContextDeps;

  constructor(definition: ControllerDefinition, deps: ControllerDeps) {
    this.name = definition.name;
    this.definition = definition;
    this.deps = deps;
    this.behaviour = definition.instantiate();
    const options = definition.options;
    this.queue = new WorkQueue((key, signal) => this.run(key, signal), {
      name: this.name,
      maxConcurrency: options.maxConcurrentReconciles ?? 1,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.reconcileTimeoutMs ? { timeoutMs: options.reconcileTimeoutMs } : {}),
      ...(deps.observer ? { observer: deps.observer } : {}),
    });
    this.contextDeps = { events: deps.events, controller: this.name };
    this.host = {
      watchChildren: (type) => this.watchChildren(type),
      listChildren: (type, uid) => this.listChildren(type, uid),
      childTypes: () => this.childTypes(),
    };
    const scope = deps.namespace ? { namespace: deps.namespace } : {};
    const queue = this.queue;
    const primaryInformer = deps.cache.informer(definition.forType, scope);
    const preds = definition.forPredicates;
    this.cleanups.push(
      primaryInformer.addHandler({
        add: (obj, initial) => {
          if (passes(preds, "create", obj)) queue.add(keyOf(obj), { priority: initial ? initialListPriority : 0 });
        },
        update: (old, obj) => {
          // The start of a deletion that finalizers hold always passes: a predicate that filters it (a ConfigMap's
          // generation never moves) would leave the finalizer, and the object, there for good.
          const deletionStarted = !old.metadata?.deletionTimestamp && obj.metadata?.deletionTimestamp;
          if ((deletionStarted && obj.metadata?.finalizers?.length) || passes(preds, "update", old, obj)) {
            queue.add(keyOf(obj));
          }
        },
        delete: (obj) => {
          if (passes(preds, "delete", obj)) queue.add(keyOf(obj));
        },
      }),
    );
    this.required.push(primaryInformer);
    for (const source of definition.sources) {
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
    const { deps, queue } = this;
    if (
      !this.definition.sources.some(
        (s) => s.role === "owns" && s.type.apiVersion === type.apiVersion && s.type.kind === type.kind,
      )
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
    const { deps } = this;
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
    for (const s of this.definition.sources)
      if (s.role === "owns") types.set(`${s.type.apiVersion}/${s.type.kind}`, s.type);
    for (const [id, w] of this.childWatches) types.set(id, w.type);
    return [...types.values()];
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
    const { queue, deps } = this;
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
    this.behaviour.stop?.();
    return this.queue.shutdown({ timeoutMs });
  }

  /** Adds a key by hand (e.g. from a webhook or a timer). */
  enqueue(key: string | ObjectKey, opts: { afterMs?: number } = {}): void {
    const k = typeof key === "string" ? key : key.namespace ? `${key.namespace}/${key.name}` : key.name;
    this.queue.add(k, opts);
  }

  get workQueue(): WorkQueue {
    return this.queue;
  }

  private async run(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    const { deps } = this;
    const request = parseKey(key);
    // The reconcile id and the child logger are made when first used: most reconciles log nothing, and at
    // thousands a second their cost showed in profiles.
    let reconcileId: string | undefined;
    let log: Logger | undefined;
    const id = () => (reconcileId ??= randomUUID());
    const logger = () =>
      (log ??= deps.log.child({
        ...(request.namespace ? { namespace: request.namespace } : {}),
        name: request.name,
        reconcileID: id(),
      }));
    const metrics = deps.metrics ?? detachedRegistry;
    const base: BaseContext = {
      request,
      client: deps.client,
      cache: deps.cache,
      get log() {
        return logger();
      },
      metrics,
      signal,
      get reconcileId() {
        return id();
      },
    };
    const contextDeps = this.contextDeps;
    try {
      const outcome = await this.behaviour.reconcile(request, { base, deps: contextDeps, host: this.host });
      if (outcome && outcome.requeueAfterMs > 0) return { kind: "requeueAfter", ms: outcome.requeueAfterMs };
      return { kind: "done" };
    } catch (error) {
      if (error instanceof TerminalError) {
        logger().error({ err: error.message }, "reconcile failed permanently");
        return { kind: "terminal", error };
      }
      if (error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError)
        deps.onPanic?.();
      const err = (error as Error)?.message ?? String(error);
      // A conflict means the object moved on since it was read: routine under concurrent writers, and the retry
      // reads the newer one. Worth a line, not an error.
      if (error instanceof ConflictError) logger().info({ err }, "conflict; retrying with the newer object");
      else logger().error({ err }, "reconcile failed; retrying with backoff");
      return { kind: "error", error };
    }
  }
}
