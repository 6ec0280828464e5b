import { type KubeClient, type ObjectKey, objectKey } from "../client/api.ts";
import { matchLabels, parseLabelSelector } from "../client/selector.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { Informer, type InformerLog, type InformerOptions, stripManagedFields } from "./informer.ts";
import { byControllerUid, byNamespace, byOwnerUid, keyOf } from "./store.ts";

/** The scope of one shared informer: kind, namespace, selectors, and whether it caches metadata only. */
export interface InformerScope {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  metadataOnly?: boolean;
}

export interface CacheOptions {
  /** Defaults for every informer (timeouts, backoff, page size, transform). */
  informerDefaults?: Omit<InformerOptions<KubeObject>, keyof InformerScope | "indexes" | "lazyIndexes">;
  /** Make reads reflect this client's writes at once (default true). */
  readYourWrites?: boolean;
  /** How long a remembered write may wait for its watch event before it is dropped (default 30 s). */
  overlayTtlMs?: number;
  log?: InformerLog;
}

export interface ListFromCacheOptions {
  namespace?: string;
  labelSelector?: string;
  /** Objects carrying every one of these labels (with `labelSelector` too, both must match). */
  matchLabels?: Record<string, string>;
  /** Objects whose index `name` has `value`, e.g. `{ name: "owner", value: parent.metadata.uid }`. */
  index?: { name: string; value: string };
}

/** Built-in indexes on every informer: `namespace`, `owner` (any owner uid), `controller` (controller owner uid). */
export const builtinIndexes = { namespace: byNamespace, owner: byOwnerUid, controller: byControllerUid };

interface OverlayEntry {
  /** The object as the write returned it; undefined when the write deleted it. */
  object: KubeObject | undefined;
  resourceVersion: string | undefined;
  /** uid of the deleted object, so that a re-creation by someone else ends the tombstone. */
  deletedUid: string | undefined;
  /** Sequence number, to drop entries older than a relist. */
  seq: number;
  expiresAt: number;
}

/**
 * resourceVersions are opaque by contract; the etcd-backed apiserver issues increasing integers. Where both sides
 * are integers we use that order to tell whether the informer has caught up with a write; otherwise only an
 * exact match (or the overlay's TTL) ends the overlay.
 */
function notOlder(rv: string | undefined, than: string | undefined): boolean {
  if (!rv || !than) return false;
  if (rv === than) return true;
  if (/^\d+$/.test(rv) && /^\d+$/.test(than)) return rv.length !== than.length ? rv.length > than.length : rv > than;
  return false;
}

class SharedInformer<T extends KubeObject> {
  readonly informer: Informer<T>;
  readonly scope: InformerScope;
  readonly overlay = new Map<string, OverlayEntry>();
  private readonly matchesLabels: ((labels: Record<string, string> | undefined) => boolean) | undefined;

  constructor(informer: Informer<T>, scope: InformerScope) {
    this.informer = informer;
    this.scope = scope;
    this.matchesLabels = scope.labelSelector ? parseLabelSelector(scope.labelSelector) : undefined;
  }

  covers(obj: KubeObject | undefined, key: ObjectKey): boolean {
    if (this.scope.namespace && key.namespace !== this.scope.namespace) return false;
    if (this.scope.fieldSelector) return false; // cannot evaluate every field selector client-side
    if (this.matchesLabels && obj && !this.matchesLabels(obj.metadata?.labels)) return false;
    return true;
  }
}

/**
 * Shared informers, one per kind and scope, and reads from them. Reads are synchronous and never go to the
 * apiserver. With readYourWrites (the default), an object this process just wrote is returned as written until
 * the informer has seen that write — controller-runtime's cache cannot promise this (its issues #1464, #2209).
 */
export class Cache {
  readonly client: KubeClient;
  private readonly options: CacheOptions;
  private readonly shared = new Map<string, SharedInformer<KubeObject>>();
  private started = false;
  private seq = 0;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(client: KubeClient, options: CacheOptions = {}) {
    this.client = client;
    this.options = options;
    if (options.readYourWrites !== false) {
      this.unsubscribe = client.onWrite((type, write) => this.remember(type, write.key, write.object, write.verb));
    }
  }

  /** The shared informer of a kind and scope, created on first use (and started if the cache runs). */
  informer<T extends KubeObject>(type: ResourceType<T>, scope: InformerScope = {}): Informer<T> {
    // A cluster-scoped kind has no namespace to be scoped to: it is cached cluster-wide (a manager restricted to a
    // namespace still reads the Namespaces, ClusterRoles or cluster-scoped custom resources it declares).
    if (!type.namespaced && scope.namespace !== undefined) {
      const { namespace: _ignored, ...rest } = scope;
      scope = rest;
    }
    const id = informerId(type, scope);
    let s = this.shared.get(id) as SharedInformer<T> | undefined;
    if (!s) {
      const transform = this.options.informerDefaults?.transform ?? stripManagedFields;
      const informer = new Informer<T>(this.client, type, {
        ...(this.options.informerDefaults as Omit<InformerOptions<T>, keyof InformerScope>),
        ...scope,
        transform: transform as unknown as (obj: T) => T,
        // Reads by namespace are in every reconcile; lookups by owner are rare, and their index is built on the first.
        indexes: { namespace: builtinIndexes.namespace },
        lazyIndexes: { owner: builtinIndexes.owner, controller: builtinIndexes.controller },
        ...(this.options.log ? { log: this.options.log } : {}),
      });
      s = new SharedInformer(informer, scope);
      this.watchOverlay(s);
      this.shared.set(id, s as unknown as SharedInformer<KubeObject>);
      if (this.started) informer.start();
    }
    return s.informer;
  }

  /** Every informer created so far. */
  informers(): Informer<KubeObject>[] {
    return [...this.shared.values()].map((s) => s.informer);
  }

  start(): void {
    this.started = true;
    for (const s of this.shared.values()) s.informer.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.unsubscribe?.();
    await Promise.all([...this.shared.values()].map((s) => s.informer.stop()));
  }

  /** Waits until every informer has listed once; fails after `timeoutMs` naming the ones that did not. */
  async waitForSync(timeoutMs = 120_000): Promise<void> {
    await Promise.all([...this.shared.values()].map((s) => s.informer.waitForSync(timeoutMs)));
  }

  /**
   * Waits until every informer has listed, or found that its kind is not served (those go on waiting for their
   * kind: a controller that needs one waits, the others run); fails after `timeoutMs` naming the informers that
   * did neither.
   */
  async waitForSyncOrUnserved(timeoutMs = 120_000): Promise<void> {
    await Promise.all([...this.shared.values()].map((s) => s.informer.waitForSyncOrUnserved(timeoutMs)));
  }

  /** Whether every informer has synced (for readiness probes). */
  get synced(): boolean {
    return [...this.shared.values()].every((s) => s.informer.hasSynced);
  }

  /** One object by key, or undefined. Throws if no informer of the kind covers the key. */
  get<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey | string): T | undefined {
    const k = objectKey(key);
    const s = this.readerFor(type, k.namespace);
    const id = k.namespace ? `${k.namespace}/${k.name}` : k.name;
    const entry = s.overlay.get(id);
    if (entry) {
      if (entry.expiresAt > Date.now()) return entry.object as T | undefined;
      s.overlay.delete(id);
    }
    return s.informer.store.get(id);
  }

  /**
   * Whether `get(type, key)` answers with objects as the apiserver stores them, managedFields aside (the default
   * transform drops them, and the apiserver keeps its own on a subresource write): no transform of the user's, and
   * not a metadata-only informer. A writer that sends a whole object back (a PUT) relies on it.
   */
  holdsWhole(type: ResourceType, key: ObjectKey | string): boolean {
    if (this.options.informerDefaults?.transform) return false;
    return !this.readerFor(type, objectKey(key).namespace).informer.options.metadataOnly;
  }

  /** Objects of a kind, optionally in one namespace, matching a label selector, or by index. */
  list<T extends KubeObject>(type: ResourceType<T>, opts: ListFromCacheOptions = {}): T[] {
    const s = this.readerFor(type, opts.namespace);
    const store = s.informer.store;
    let items: T[];
    if (opts.index) items = store.byIndex(opts.index.name, opts.index.value);
    else if (opts.namespace) items = store.byIndex("namespace", opts.namespace);
    else items = [...store.values()];
    const selector = [opts.labelSelector, opts.matchLabels && matchLabels(opts.matchLabels)].filter(Boolean).join(",");
    const match = selector ? parseLabelSelector(selector) : undefined;
    const keep = (o: KubeObject) =>
      (!opts.namespace || o.metadata?.namespace === opts.namespace) &&
      (!match || match(o.metadata?.labels)) &&
      (!opts.index || store.indexValues(opts.index.name, o as T).includes(opts.index.value));
    // An index lookup is not limited to the namespace; anything else is already exactly the answer.
    if (s.overlay.size === 0) return match || (opts.index && opts.namespace) ? items.filter(keep) : items;
    const now = Date.now();
    const byKey = new Map(items.map((o) => [keyOf(o), o]));
    for (const [key, entry] of s.overlay) {
      if (entry.expiresAt <= now) continue;
      if (entry.object === undefined) byKey.delete(key);
      else if (keep(entry.object)) byKey.set(key, entry.object as T);
      else byKey.delete(key);
    }
    return [...byKey.values()].filter(keep);
  }

  private readerFor<T extends KubeObject>(type: ResourceType<T>, namespace: string | undefined): SharedInformer<T> {
    if (!type.namespaced) namespace = undefined;
    let fallback: SharedInformer<T> | undefined;
    for (const s of this.shared.values()) {
      const i = s.informer;
      if (i.type.apiVersion !== type.apiVersion || i.type.kind !== type.kind) continue;
      if (s.scope.labelSelector || s.scope.fieldSelector) continue;
      if (!s.scope.namespace) return s as unknown as SharedInformer<T>;
      if (namespace && s.scope.namespace === namespace) fallback = s as unknown as SharedInformer<T>;
    }
    if (fallback) return fallback;
    throw new Error(
      `no informer caches ${type.kind} (${type.apiVersion})${namespace ? ` in namespace ${namespace}` : ""}; ` +
        "declare the kind on the controller (for / owns / watches) or create one with cache.informer(type)",
    );
  }

  /** Records a write of this process so that reads return it until the informer has caught up. */
  private remember(type: ResourceType, key: ObjectKey, written: KubeObject | undefined, verb?: string): void {
    const ttl = this.options.overlayTtlMs ?? 30_000;
    // A write that leaves a deleting object without finalizers (and without a grace period) deleted it; so did a
    // delete answered with an object that is not marked for deletion (what the apiserver returns for an object
    // removed at once, e.g. a Service). The apiserver still answers with the object, at the resourceVersion the
    // informer already holds, so it must be remembered as a deletion, or the informer's stale copy would be read
    // until the watch catches up.
    const m = written?.metadata;
    const gone =
      (verb === "delete" && !m?.deletionTimestamp) ||
      (m?.deletionTimestamp && !m.finalizers?.length && !m.deletionGracePeriodSeconds);
    const object = gone ? undefined : written;
    for (const s of this.shared.values()) {
      const i = s.informer;
      if (i.type.apiVersion !== type.apiVersion || i.type.kind !== type.kind || !s.covers(object, key)) continue;
      const id = key.namespace ? `${key.namespace}/${key.name}` : key.name;
      const current = i.store.get(id);
      const rv = object?.metadata?.resourceVersion;
      // The watch event can arrive before the write's own response; then there is nothing to bridge.
      if (object && notOlder(current?.metadata?.resourceVersion, rv)) continue;
      if (!object && !current) continue;
      // A deleting object the informer no longer holds was removed before this write's response was read (a
      // foreground deletion with no dependents ends at once): remembering it would bring it back until the TTL.
      if (object?.metadata?.deletionTimestamp && !current && !s.overlay.has(id)) continue;
      // Responses may be read out of order. resourceVersions are opaque, but within one object's updates (same uid)
      // the etcd-backed apiserver's integers grow: an older response must not replace a newer remembered write.
      // Across uids (a re-created object) or for non-integer versions, the later response wins as before.
      const remembered = s.overlay.get(id);
      if (
        object &&
        remembered?.object?.metadata?.uid === object.metadata?.uid &&
        remembered?.resourceVersion !== rv &&
        notOlder(remembered?.resourceVersion, rv)
      )
        continue;
      // A copy: the write's answer also goes back to its caller, whose object must not change under it.
      const stored = object
        ? i.options.metadataOnly
          ? metadataOnly(object)
          : object.metadata?.managedFields
            ? { ...object, metadata: { ...object.metadata, managedFields: undefined } }
            : object
        : undefined;
      s.overlay.set(id, {
        object: stored,
        resourceVersion: rv,
        deletedUid: object ? undefined : current?.metadata?.uid,
        seq: ++this.seq,
        expiresAt: Date.now() + ttl,
      });
    }
  }

  private watchOverlay<T extends KubeObject>(s: SharedInformer<T>): void {
    let relistSeq = 0;
    s.informer.onEvent((event) => {
      if (event.type === "RELIST_START") {
        relistSeq = this.seq;
        return;
      }
      if (event.type === "RELIST_END") {
        // A list that started after a write includes it.
        for (const [key, entry] of s.overlay) if (entry.seq <= relistSeq) s.overlay.delete(key);
        return;
      }
      if (s.overlay.size === 0 || !("object" in event)) return;
      const key = keyOf(event.object);
      const entry = s.overlay.get(key);
      if (!entry) return;
      if (event.type === "DELETED") {
        s.overlay.delete(key);
      } else if (entry.object === undefined) {
        if (event.object.metadata?.uid !== entry.deletedUid) s.overlay.delete(key);
      } else if (notOlder(event.object.metadata?.resourceVersion, entry.resourceVersion)) {
        s.overlay.delete(key);
      }
    });
  }
}

function informerId(type: ResourceType, scope: InformerScope): string {
  return [
    type.apiVersion,
    type.kind,
    scope.namespace ?? "",
    scope.labelSelector ?? "",
    scope.fieldSelector ?? "",
    scope.metadataOnly ? "meta" : "full",
  ].join("|");
}

function metadataOnly(obj: KubeObject): KubeObject {
  const { managedFields: _m, ...metadata } = obj.metadata ?? {};
  return { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata };
}
