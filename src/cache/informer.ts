import type { KubeClient, WatchEvent } from "../client/api.ts";
import { ApiError, GoneError, isGone, isNotFound, type StatusBody } from "../client/errors.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { SharedStrings } from "./shared-strings.ts";
import { type IndexFunc, keyOf, Store } from "./store.ts";

/** Receives an informer's changes, in order. `initial` marks objects delivered by a (re)list. */
export interface EventHandler<T> {
  add?(obj: T, initial: boolean): void;
  update?(oldObj: T, newObj: T): void;
  /** `finalStateUnknown`: the object vanished during a relist, so its last state may be older than its deletion. */
  delete?(obj: T, finalStateUnknown: boolean): void;
}

export type InformerLog = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export interface InformerOptions<T extends KubeObject> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Cache PartialObjectMetadata only (names, labels, owners...), not specs and statuses. */
  metadataOnly?: boolean;
  /**
   * Applied to every object before it is stored. Default: drop `metadata.managedFields`, which operators rarely
   * read and which is often the largest part of an object.
   */
  transform?: (obj: T) => T;
  /** List page size (default 500). */
  pageSize?: number;
  /**
   * A watch that delivers no event and no bookmark for this long is taken for dead and restarted (default
   * 180 s; the apiserver sends a bookmark about once a minute). Silent stalls are the worst failure of watch
   * loops that trust the TCP connection.
   */
  inactivityTimeoutMs?: number;
  /**
   * The longest one page of a list may take before the list is aborted and tried again with backoff (default
   * 60 s), whatever the client's own timeouts: a list left hanging would keep the informer from ever syncing.
   */
  listPageTimeoutMs?: number;
  /** Server-side watch timeout range in seconds; each watch picks one at random (default 300–600). */
  watchTimeoutSeconds?: readonly [number, number];
  /** Reconnect backoff: 800 ms doubling to 30 s, with full jitter, reset after 2 min of healthy watching. */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
  /**
   * While the apiserver does not serve the kind (its CRD is not installed yet), the list is tried again after
   * 1 s, doubling up to this (default 10 s), so that the informer starts soon after the CRD appears.
   */
  unservedRetryMaxMs?: number;
  /**
   * After a 410 Gone the relist waits a random time of up to this (default 1,000 ms): a compaction expires the
   * watches of every informer at once, and their relists should not all hit the apiserver together.
   */
  relistJitterMs?: number;
  /**
   * While connections are refused (the apiserver is restarting: nothing listens on its port) the informer tries
   * again after a random time of up to this (default 500 ms), without growing its backoff: a refused connection
   * costs the apiserver nothing, and the watch should be back as soon as the apiserver is.
   */
  refusedRetryMs?: number;
  /** Replay every cached object as an update this often (default: never). */
  resyncMs?: number;
  indexes?: Record<string, IndexFunc<T>>;
  /** Indexes built the first time a lookup uses them (until then they cost nothing per object). */
  lazyIndexes?: Record<string, IndexFunc<T>>;
  log?: InformerLog;
}

/**
 * Strips managedFields (the default transform), in place: the object was just parsed and belongs to the cache, and
 * copying it and its metadata for every event cost more than the rest of the informer. The field is set to
 * undefined rather than deleted, which would turn the metadata into a slower dictionary object.
 */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata?.managedFields) obj.metadata.managedFields = undefined;
  return obj;
}

/** One pool for every informer of the process: namespaces and owners' apiVersions repeat across kinds. */
const sharedStrings = new SharedStrings();

class StalledWatchError extends Error {}

/** A connection the apiserver's host refused: nothing listens on the port (happy-eyeballs errors included). */
function isConnectionRefused(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  if (e.code === "ECONNREFUSED") return true;
  if (Array.isArray(e.errors) && e.errors.some(isConnectionRefused)) return true;
  return e.cause !== undefined && e.cause !== err && isConnectionRefused(e.cause);
}

/**
 * Lists then watches one kind (in one namespace or all, with optional selectors) and keeps a Store current.
 * Resumes from the last resourceVersion after a watch ends, relists after 410 Gone, backs off with jitter on
 * errors, and restarts a watch that went silent. Handlers see adds, updates and deletes in order.
 */
export class Informer<T extends KubeObject> {
  readonly type: ResourceType<T>;
  readonly store = new Store<T>();
  readonly options: InformerOptions<T>;
  private readonly client: KubeClient;
  private readonly handlers = new Set<EventHandler<T>>();
  private readonly listeners = new Set<(event: InformerEvent<T>) => void>();
  private readonly transform: (obj: T) => T;
  private resourceVersion: string | undefined;
  private synced = false;
  private unserved = false;
  private lastError: string | undefined;
  private failingSinceMs: number | undefined;
  /** Called whenever synced or unserved changes. */
  private readonly stateWaiters = new Set<() => void>();
  private running: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private stopped = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Counters for health checks, metrics and tests. */
  readonly stats = { lists: 0, watches: 0, events: 0, stalls: 0, errors: 0, lastEventAt: 0 };

  constructor(client: KubeClient, type: ResourceType<T>, options: InformerOptions<T> = {}) {
    this.client = client;
    this.type = type;
    this.options = options;
    this.transform = options.transform ?? stripManagedFields;
    for (const [name, fn] of Object.entries(options.indexes ?? {})) this.store.addIndex(name, fn);
    for (const [name, fn] of Object.entries(options.lazyIndexes ?? {})) this.store.addLazyIndex(name, fn);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /**
   * True while the apiserver answers the kind's list with 404: its API is not served (a CRD not installed yet, or
   * removed). The informer keeps trying and fills its store once the kind is served.
   */
  get isUnserved(): boolean {
    return this.unserved;
  }

  /** The last list or watch failure, if the informer has not recovered from it yet. */
  get lastFailure(): string | undefined {
    return this.lastError;
  }

  /**
   * Since when (Date.now()) every list and watch has failed, or undefined while they work. A kind that is not
   * served does not count: that is waiting, not failing.
   */
  get failingSince(): number | undefined {
    return this.failingSinceMs;
  }

  /** The resourceVersion the informer has caught up to. */
  get lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  /**
   * Adds a handler. Objects already in the store are replayed to it as initial adds, so a handler added late
   * misses nothing. Returns a function that removes it.
   */
  addHandler(handler: EventHandler<T>): () => void {
    this.handlers.add(handler);
    if (handler.add) for (const obj of this.store.values()) this.safely(() => handler.add?.(obj, true));
    return () => this.handlers.delete(handler);
  }

  /** Low-level listener of every applied event, including relist markers (used by the cache's overlay). */
  onEvent(listener: (event: InformerEvent<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  addIndex(name: string, fn: IndexFunc<T>): void {
    this.store.addIndex(name, fn);
  }

  start(): void {
    if (this.running) return;
    this.stopped = false;
    this.running = this.run();
    if (this.options.resyncMs) {
      this.resyncTimer = setInterval(() => {
        for (const obj of this.store.values()) this.emitUpdate(obj, obj);
      }, this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.abort?.abort();
    await this.running;
    this.running = undefined;
  }

  /** Resolves once the first list is in the store; rejects after `timeoutMs` (default 120 s, like controller-runtime). */
  waitForSync(timeoutMs = 120_000): Promise<void> {
    return this.waitUntil(() => this.synced, timeoutMs, "did not sync");
  }

  /** Resolves once the first list is in the store, however long that takes (e.g. until a CRD is installed). */
  whenSynced(): Promise<void> {
    return this.waitUntil(() => this.synced, undefined, "");
  }

  /**
   * Resolves once the informer has listed or has found that its kind is not served (then it goes on waiting for
   * the kind); rejects after `timeoutMs` when it did neither, e.g. because every list was forbidden or failed.
   */
  waitForSyncOrUnserved(timeoutMs = 120_000): Promise<void> {
    return this.waitUntil(() => this.synced || this.unserved, timeoutMs, "did not sync");
  }

  private waitUntil(done: () => boolean, timeoutMs: number | undefined, failure: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.stateWaiters.delete(check);
        resolve();
      };
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.stateWaiters.delete(check);
              const last = this.lastError ? ` (last error: ${this.lastError})` : "";
              reject(new Error(`${this.describe()} ${failure} within ${timeoutMs} ms${last}`));
            }, timeoutMs);
      this.stateWaiters.add(check);
    });
  }

  private stateChanged(): void {
    for (const check of [...this.stateWaiters]) check();
  }

  describe(): string {
    const scope = this.options.namespace ? ` in namespace ${this.options.namespace}` : "";
    return `informer for ${this.type.kind} (${this.type.apiVersion})${scope}`;
  }

  private log(level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, msg, { kind: this.type.kind, namespace: this.options.namespace, ...fields });
  }

  private async run(): Promise<void> {
    const initialMs = this.options.backoff?.initialMs ?? 800;
    const maxMs = this.options.backoff?.maxMs ?? 30_000;
    const resetAfterMs = this.options.backoff?.resetAfterMs ?? 120_000;
    let delay = initialMs;
    const unservedMaxMs = this.options.unservedRetryMaxMs ?? 10_000;
    let unservedDelay = 1_000;
    let needList = true;
    // Set while connections are refused, so that an outage is logged once, not every retry.
    let refusing = false;
    while (!this.stopped) {
      const started = Date.now();
      try {
        if (needList) {
          await this.relist();
          needList = false;
          unservedDelay = 1_000;
          this.lastError = undefined;
          this.failingSinceMs = undefined;
          refusing = false;
        }
        await this.watchOnce();
        // A watch the server ended in good order: the connection works.
        this.failingSinceMs = undefined;
        // A watch the server ends at once, over and over, would otherwise become a busy loop.
        if (Date.now() - started < 1_000) await this.sleep(Math.random() * initialMs);
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          // Our resourceVersion fell out of the apiserver's window: only a new list can catch up.
          this.log("info", "resourceVersion expired; relisting", { resourceVersion: this.resourceVersion });
          needList = true;
          await this.sleep(Math.random() * (this.options.relistJitterMs ?? 1_000));
          continue;
        }
        if (isNotFound(err)) {
          // The kind is not served: a CRD not installed yet (or removed). Not an error of this operator; keep
          // asking, often enough to start soon after the CRD appears.
          if (!this.unserved) {
            this.unserved = true;
            this.log("warn", "the apiserver does not serve this kind; waiting for it (is its CRD installed?)", {
              apiVersion: this.type.apiVersion,
            });
            this.stateChanged();
          }
          this.lastError = (err as Error).message;
          needList = true;
          await this.sleep(unservedDelay);
          unservedDelay = Math.min(unservedDelay * 2, unservedMaxMs);
          continue;
        }
        this.lastError = (err as Error).message;
        this.failingSinceMs ??= Date.now();
        const refused = isConnectionRefused(err);
        if (!refused) refusing = false;
        if (refused) {
          this.stats.errors++;
          if (!refusing) {
            refusing = true;
            this.log("warn", "the apiserver refuses connections; retrying", { error: (err as Error).message });
          }
          // The first answer after the outage (often a 429 or 503 while the apiserver warms up) starts from the
          // initial backoff again, not from where the outage left it.
          delay = initialMs * 2;
          await this.sleep(Math.random() * (this.options.refusedRetryMs ?? 500));
          continue;
        }
        if (err instanceof StalledWatchError) {
          this.stats.stalls++;
          this.log("warn", "watch delivered nothing within the inactivity timeout; restarting it", {
            timeoutMs: this.inactivityTimeoutMs(),
          });
        } else {
          this.stats.errors++;
          this.log("warn", "list/watch failed; retrying", { error: (err as Error).message, retryInMs: delay });
        }
        if (Date.now() - started > resetAfterMs) delay = initialMs;
        // Full jitter spreads the reconnects of many informers (and many replicas) after an apiserver restart.
        await this.sleep(Math.random() * delay);
        delay = Math.min(delay * 2, maxMs);
        continue;
      }
      if (Date.now() - started > resetAfterMs) delay = initialMs;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const controller = new AbortController();
      this.abort = controller;
      const timer = setTimeout(resolve, ms);
      controller.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private inactivityTimeoutMs(): number {
    return this.options.inactivityTimeoutMs ?? 180_000;
  }

  /**
   * Lists page by page, applying each page to the store as it comes, so memory never holds the old store and a
   * whole new list at once; objects not seen in the new list are deleted afterwards.
   */
  private async relist(): Promise<void> {
    const controller = new AbortController();
    this.abort = controller;
    this.stats.lists++;
    const pageTimeoutMs = this.options.listPageTimeoutMs ?? 60_000;
    let timedOut = false;
    const onTimeout = () => {
      timedOut = true;
      controller.abort();
    };
    let timer = setTimeout(onTimeout, pageTimeoutMs);
    this.emitRaw({ type: "RELIST_START" });
    const seen = new Set<string>();
    let rv: string | undefined;
    try {
      for await (const page of this.client.listPages(this.type, {
        ...this.selectors(),
        pageSize: this.options.pageSize ?? 500,
        signal: controller.signal,
      })) {
        clearTimeout(timer);
        timer = setTimeout(onTimeout, pageTimeoutMs);
        this.applyPage(page.items, seen);
        rv ??= page.metadata.resourceVersion;
      }
    } catch (err) {
      if (timedOut && !this.stopped)
        throw new Error(`list of ${this.type.kind} took over ${pageTimeoutMs} ms for a page`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    for (const key of [...this.store.keys()]) {
      if (seen.has(key)) continue;
      const old = this.store.delete(key);
      if (old) this.emitDelete(old, true);
    }
    this.resourceVersion = rv;
    this.emitRaw({ type: "RELIST_END" });
    if (this.unserved) {
      this.unserved = false;
      this.log("info", "the kind is served now; listed", { apiVersion: this.type.apiVersion, objects: seen.size });
    }
    if (!this.synced) this.synced = true;
    this.stateChanged();
  }

  private applyPage(items: T[], seen: Set<string>): void {
    for (const raw of items) {
      const obj = this.transform(sharedStrings.shareIn(this.typed(raw)));
      const key = keyOf(obj);
      seen.add(key);
      const old = this.store.set(key, obj);
      if (!old) this.emitAdd(obj, true);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emitUpdate(old, obj);
    }
  }

  private selectors() {
    return {
      ...(this.options.namespace ? { namespace: this.options.namespace } : {}),
      ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
      ...(this.options.fieldSelector ? { fieldSelector: this.options.fieldSelector } : {}),
      ...(this.options.metadataOnly ? { metadataOnly: true } : {}),
    };
  }

  /** List items lack apiVersion and kind; restore them so that cached objects are complete. */
  private typed(obj: T): T {
    if (this.options.metadataOnly) return obj;
    if (obj.apiVersion && obj.kind) return obj;
    return { ...obj, apiVersion: this.type.apiVersion, kind: this.type.kind };
  }

  private async watchOnce(): Promise<void> {
    const controller = new AbortController();
    this.abort = controller;
    let stalled = false;
    const timeoutMs = this.inactivityTimeoutMs();
    // One timer, pushed back at each event with refresh() (no new timer per event: they come by the thousand).
    const timer = setTimeout(onStall, timeoutMs);
    function onStall() {
      stalled = true;
      controller.abort();
    }
    const [lo, hi] = this.options.watchTimeoutSeconds ?? [300, 600];
    this.stats.watches++;
    try {
      const events = this.client.watch(this.type, {
        ...this.selectors(),
        allowWatchBookmarks: true,
        timeoutSeconds: Math.round(lo + Math.random() * (hi - lo)),
        signal: controller.signal,
        ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
      });
      for await (const event of events) {
        timer.refresh();
        this.apply(event);
        this.failingSinceMs = undefined;
      }
    } catch (err) {
      if (stalled) throw new StalledWatchError();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (stalled) throw new StalledWatchError();
  }

  private apply(event: WatchEvent<T>): void {
    this.stats.events++;
    this.stats.lastEventAt = Date.now();
    if (event.type === "ERROR") {
      const status = event.object as unknown as StatusBody;
      if (status.code === 410) throw new GoneError(410, status, `WATCH ${this.type.kind}`);
      throw new ApiError(status.code ?? 500, status, `WATCH ${this.type.kind}`);
    }
    const rv = event.object.metadata?.resourceVersion;
    if (event.type === "BOOKMARK") {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const obj = this.transform(sharedStrings.shareIn(this.typed(event.object)));
    const key = keyOf(obj);
    if (event.type === "DELETED") {
      this.store.delete(key);
      this.emitDelete(obj, false);
    } else {
      const old = this.store.set(key, obj);
      if (old) this.emitUpdate(old, obj);
      else this.emitAdd(obj, false);
    }
    if (rv) this.resourceVersion = rv;
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log("error", "event handler threw", { error: (err as Error).message });
    }
  }

  private emitRaw(event: InformerEvent<T>): void {
    for (const l of this.listeners) this.safely(() => l(event));
  }

  private emitAdd(obj: T, initial: boolean): void {
    this.emitRaw({ type: "ADDED", object: obj });
    for (const h of this.handlers) if (h.add) this.safely(() => h.add?.(obj, initial));
  }

  private emitUpdate(old: T, obj: T): void {
    this.emitRaw({ type: "MODIFIED", object: obj });
    for (const h of this.handlers) if (h.update) this.safely(() => h.update?.(old, obj));
  }

  private emitDelete(obj: T, finalStateUnknown: boolean): void {
    this.emitRaw({ type: "DELETED", object: obj });
    for (const h of this.handlers) if (h.delete) this.safely(() => h.delete?.(obj, finalStateUnknown));
  }
}

export type InformerEvent<T> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  | { type: "RELIST_START" | "RELIST_END" };
