/**
 * An in-memory KubeClient for fast unit tests of reconciles and whole controllers: objects live in a map, every
 * verb behaves like the apiserver's where that is practical (resourceVersion, generation, status and scale
 * subresources, conflicts and preconditions, finalizers, garbage collection, selectors, paging, watches with a
 * history, bookmarks and 410 Expired), failures are the same typed ApiErrors as the real client's (the same
 * Status bodies, and the same plain Errors where the real client checks before sending), and every call is
 * recorded so that tests can assert what was done, including that nothing was written.
 *
 * Deliberate approximations, so that nobody trusts the fake where it cannot be trusted:
 * - no schema validation, defaulting or admission: any JSON is stored (names must still be path segments);
 * - namespaces need not exist; `generation` is kept for every kind (the apiserver keeps it for custom resources
 *   and most workloads, not for ConfigMaps);
 * - strategic merge patches are applied as JSON merge patches (lists are replaced, no merge keys or directives);
 * - server-side apply merges the configuration into the object like a merge patch; field ownership, conflicts
 *   between managers, removal of fields a manager stops applying and `managedFields` are not modelled (`force`
 *   is accepted and ignored);
 * - lists read the current state on every page (the apiserver serves a snapshot), keeping the first page's
 *   resourceVersion; `resourceVersion` and `resourceVersionMatch` on lists are ignored;
 * - field selectors accept any dotted path (the apiserver allows only a few per kind);
 * - deletions are immediate unless finalizers hold the object (no graceful deletion of pods);
 * - the garbage collector runs synchronously inside the call that removed an owner (the apiserver's is
 *   asynchronous), and only when an object is removed, not for objects seeded with absent owners;
 * - a watch is open from the call to `watch()` (not from its first `next()`) until it ends.
 */
import { randomUUID } from "node:crypto";
import type { ObjectMeta, OwnerReference } from "../types/generated/meta.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import {
  type ApplyOptions,
  ClientBase,
  type DeepPartial,
  type DeleteOptions,
  type KubeClient,
  type ListOptions,
  type ListResult,
  type ObjectKey,
  objectKey,
  type PatchType,
  type Scale,
  type WatchEvent,
  type WatchOptions,
  type WriteOptions,
} from "./api.ts";
import { type ApiError, apiErrorFor, type StatusBody, type StatusCause } from "./errors.ts";
import {
  applyJsonPatch,
  applyMergePatch,
  deepEqual,
  isJsonObject as isObject,
  JsonPatchError,
  type JsonPatchOperation,
} from "./patch.ts";
import { type FieldMatcher, type LabelMatcher, parseFieldSelector, parseLabelSelector } from "./selector.ts";

/** One call made to the fake. */
export interface FakeAction {
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "apply" | "delete";
  apiVersion: string;
  kind: string;
  /** Left out for cluster-scoped kinds and for lists and watches across all namespaces. */
  namespace?: string;
  /** Left out for lists, watches, and creates with generateName. */
  name?: string;
  subresource?: "status" | "scale";
  /** Only on `patch`. */
  patchType?: PatchType;
  /** Only when set. */
  dryRun?: true;
}

/**
 * Called before every call is carried out (after it is recorded in `actions`) with the action and the body sent
 * (the object or patch; undefined for reads and deletes). Returning (or resolving to) an Error makes the call fail
 * with it; throwing does too. Use it to inject failures, e.g. a ConflictError on the first update.
 */
export type FakeInterceptor = (action: FakeAction, body: unknown) => Error | undefined | Promise<Error | undefined>;

export interface FakeClientOptions {
  /** Objects stored before the first call, as they are (status included), like `seed()`. */
  objects?: ReadonlyArray<readonly [ResourceType, KubeObject]>;
  /** Default field manager (server-side apply needs one, as with the real client). */
  fieldManager?: string;
  intercept?: FakeInterceptor;
  /** Watch events kept per kind for resuming watches (default 1,000); older resourceVersions get 410 Expired. */
  watchHistory?: number;
  /** Clock for creationTimestamp and deletionTimestamp (default: the real time). */
  now?: () => Date;
}

/** Builds an ApiError shaped like the apiserver's, for interceptors: e.g. `fakeApiError(409, "Conflict", ...)`. */
export function fakeApiError(
  code: number,
  reason: string,
  message: string,
  details?: StatusBody["details"],
  request = "FAKE",
): ApiError {
  return apiErrorFor(
    code,
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    },
    request,
  );
}

type Obj = { apiVersion?: string; kind?: string; metadata: ObjectMeta; [key: string]: unknown };
type ObjMatcher = (obj: Obj) => boolean;

interface HistoryEvent {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** The stored state after the event (for DELETED, the last state with the deletion's resourceVersion). */
  object: Obj;
  prev: Obj | undefined;
}

interface Watcher {
  matches: ObjMatcher;
  metadataOnly: boolean;
  bookmarks: boolean;
  queue: WatchEvent<unknown>[];
  ended: boolean;
  waiting: (() => void) | undefined;
  /** Ends the watch: no more events are queued; those queued are still delivered. */
  end: () => void;
}

interface Bucket {
  type: ResourceType;
  objects: Map<string, Obj>;
  history: HistoryEvent[];
  /** resourceVersion of the newest event dropped from the history: watches from before it get 410. */
  floor: number;
  watchers: Set<Watcher>;
}

const initialEventsEnd = "k8s.io/initial-events-end";
const nameChars = "bcdfghjklmnpqrstvwxz2456789";

/**
 * The fake. Construct it with seed objects, hand it to reconciles or a Manager (`{ client: fake }`), then look at
 * the store (`peek`, `peekList`, or the verbs) and at `actions`.
 */
export class FakeClient extends ClientBase implements KubeClient {
  /** Every call in order, reads included (see `writes()` for the writes only). */
  readonly actions: FakeAction[] = [];
  /** Replaceable at any time; see FakeInterceptor. */
  intercept: FakeInterceptor | undefined;
  private readonly buckets = new Map<string, Bucket>();
  private readonly uids = new Set<string>();
  /** etcd's revision of an empty store is 1; every write takes the next one. */
  private rv = 1;
  private compactedRv = 0;
  private readonly historyLimit: number;
  private readonly clock: () => Date;
  private settling = false;
  private settleAgain = false;

  constructor(options: FakeClientOptions = {}) {
    super(options.fieldManager);
    this.intercept = options.intercept;
    this.historyLimit = Math.max(1, options.watchHistory ?? 1000);
    this.clock = options.now ?? (() => new Date());
    for (const [type, obj] of options.objects ?? []) this.seed(type, obj);
  }

  // ---------------------------------------------------------------------------------------------- test helpers

  /**
   * Stores objects as they are (status, finalizers and ownerReferences included), creating or replacing, as if
   * another actor had written them: watches see the change, but nothing is recorded in `actions`, interceptors
   * are not called and write listeners (the cache's read-your-writes) are not told. Fills in apiVersion, kind,
   * uid, creationTimestamp and generation when missing; assigns a new resourceVersion. Returns the stored copies.
   */
  seed<T extends KubeObject>(type: ResourceType<T>, ...objects: T[]): T[] {
    return objects.map((input) => {
      const obj = this.typed(type, input);
      const m = obj.metadata;
      if (!m.name) throw new Error(`seed ${type.kind}: metadata.name is required`);
      if (type.namespaced && !m.namespace)
        throw new Error(`seed ${type.kind} ${m.name}: metadata.namespace is required`);
      if (!type.namespaced) delete m.namespace;
      if (m.deletionTimestamp && !m.finalizers?.length) {
        throw new Error(`seed ${type.kind} ${m.name}: an object with a deletionTimestamp needs finalizers`);
      }
      const bucket = this.bucket(type);
      const key = keyFor(m.namespace, m.name);
      const existing = bucket.objects.get(key);
      m.uid ||= existing?.metadata.uid ?? randomUUID();
      m.creationTimestamp ||= existing?.metadata.creationTimestamp ?? this.timestamp();
      m.generation ??= existing?.metadata.generation ?? 1;
      if (existing && existing.metadata.uid !== m.uid) this.uids.delete(existing.metadata.uid as string);
      normalize(obj);
      return as<T>(this.commit(bucket, key, obj));
    });
  }

  /** The stored object (a copy), or undefined; not recorded as an action. */
  peek<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey | string): T | undefined {
    const k = objectKey(key);
    const found = this.bucket(type).objects.get(keyFor(type.namespaced ? k.namespace : undefined, k.name));
    return found ? as<T>(clone(found)) : undefined;
  }

  /** Every stored object of a kind (copies, sorted by namespace and name), optionally in one namespace. */
  peekList<T extends KubeObject>(type: ResourceType<T>, namespace?: string): T[] {
    return this.sorted(this.bucket(type))
      .filter(([, o]) => !namespace || o.metadata.namespace === namespace)
      .map(([, o]) => as<T>(clone(o)));
  }

  /** The recorded writes (create, update, patch, apply, delete), without dry runs. */
  writes(): FakeAction[] {
    return this.actions.filter((a) => a.verb !== "get" && a.verb !== "list" && a.verb !== "watch" && !a.dryRun);
  }

  resetActions(): void {
    this.actions.length = 0;
  }

  /** Sends a BOOKMARK with the current resourceVersion to every open watch that allows bookmarks. */
  bookmark(): void {
    for (const bucket of this.buckets.values()) {
      for (const w of bucket.watchers) {
        if (!w.bookmarks) continue;
        w.queue.push({ type: "BOOKMARK", object: this.bookmarkObject(bucket.type) });
        notify(w);
      }
    }
  }

  /**
   * Forgets the watch history, like an etcd compaction: watches that resume from any resourceVersion before now
   * get a 410 Expired ERROR event (and informers relist).
   */
  compact(): void {
    this.compactedRv = this.rv;
    for (const bucket of this.buckets.values()) {
      bucket.history = [];
      bucket.floor = this.rv;
    }
  }

  /** The current (newest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Ends every open watch cleanly (their consumers see the stream end). The fake stays usable. */
  async close(): Promise<void> {
    for (const bucket of this.buckets.values()) {
      for (const w of [...bucket.watchers]) w.end();
    }
  }

  // ---------------------------------------------------------------------------------------------- reads

  async get<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const k = this.address(type, objectKey(key));
    await this.before(action("get", type, k), undefined, opts.signal);
    const found = this.bucket(type).objects.get(keyFor(k.namespace, k.name));
    if (!found) throw notFound(type, k.name, `GET ${pathOf(type, k.namespace, k.name)}`);
    return as<T>(clone(found));
  }

  async list<T extends KubeObject>(type: ResourceType<T>, opts: ListOptions = {}): Promise<ListResult<T>> {
    const namespace = type.namespaced ? opts.namespace || undefined : undefined;
    await this.before(action("list", type, { namespace }), undefined, opts.signal);
    const request = `GET ${pathOf(type, namespace)}`;
    const matches = matcher(namespace, opts.labelSelector, opts.fieldSelector, request);
    let after: string | undefined;
    let listRv = this.rv;
    if (opts.continue) {
      const token = decodeContinue(opts.continue);
      if (!token) throw badRequest(`invalid continue token "${opts.continue}"`, request);
      after = token.key;
      listRv = token.rv;
    }
    const all = this.sorted(this.bucket(type)).filter(([key, o]) => (after === undefined || key > after) && matches(o));
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    const page = limit ? all.slice(0, limit) : all;
    const more = limit !== undefined && all.length > limit;
    const metadata: ListResult<T>["metadata"] = { resourceVersion: String(listRv) };
    if (more && limit !== undefined) {
      metadata.continue = encodeContinue(listRv, (page[page.length - 1] as [string, Obj])[0]);
      if (!opts.labelSelector && !opts.fieldSelector) metadata.remainingItemCount = all.length - limit;
    }
    if (opts.metadataOnly) {
      return {
        apiVersion: "meta.k8s.io/v1",
        kind: "PartialObjectMetadataList",
        metadata,
        items: page.map(([, o]) => partial(o) as unknown as T),
      };
    }
    // Like the apiserver, lists of built-in kinds carry no apiVersion and kind on their items.
    const builtIn = isBuiltIn(type);
    return {
      apiVersion: type.apiVersion,
      kind: `${type.kind}List`,
      metadata,
      items: page.map(([, o]) => {
        const item = clone(o);
        if (builtIn) {
          delete item.apiVersion;
          delete item.kind;
        }
        return item as unknown as T;
      }),
    };
  }

  /**
   * Events after `resourceVersion` (from the kept history; 410 Expired as an ERROR event when it is older), or
   * from now when it is not given. `resourceVersion: "0"` and `sendInitialEvents` start with ADDED events for
   * the current objects (then, with `sendInitialEvents` and bookmarks, a BOOKMARK marking their end). The stream
   * ends after `timeoutSeconds` or `close()`; aborting `signal` makes it throw the signal's reason (an
   * AbortError), as the real client's does.
   */
  watch<T extends KubeObject>(type: ResourceType<T>, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const namespace = type.namespaced ? opts.namespace || undefined : undefined;
    const act = action("watch", type, { namespace });
    this.actions.push(act);
    const opened = this.openWatch(type, namespace, opts, `WATCH ${pathOf(type, namespace)}`);
    return this.stream<T>(opened, act, opts.signal);
  }

  async getScale(type: ResourceType, key: ObjectKey | string): Promise<Scale> {
    const k = this.address(type, objectKey(key));
    const request = `GET ${pathOf(type, k.namespace, k.name, "scale")}`;
    await this.before(action("get", type, k, "scale"), undefined, undefined);
    if (!type.subresources.scale) throw noSuchResource(request);
    const found = this.bucket(type).objects.get(keyFor(k.namespace, k.name));
    if (!found) throw notFound(type, k.name, request);
    return scaleOf(found);
  }

  // ---------------------------------------------------------------------------------------------- writes

  async create<T extends KubeObject>(type: ResourceType<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    const namespace = obj.metadata?.namespace;
    if (type.namespaced && !namespace) throw new Error(`${type.kind} is namespaced: metadata.namespace is required`);
    const ns = type.namespaced ? namespace : undefined;
    const name = obj.metadata?.name || undefined;
    await this.before(action("create", type, { namespace: ns, name }, undefined, opts), obj, opts.signal);
    const created = this.createObject(type, obj, `POST ${pathOf(type, ns)}`, opts.dryRun);
    return this.result(type, as<T>(created), opts, "create");
  }

  /** Replaces the object (its status is kept when the kind has a status subresource). */
  update<T extends KubeObject>(type: ResourceType<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.put(type, obj, opts, false);
  }

  /** Replaces the status only. */
  updateStatus<T extends KubeObject>(type: ResourceType<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.put(type, obj, opts, true);
  }

  async patch<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    patchType: PatchType,
    patch: unknown,
    opts: WriteOptions & { subresource?: "status" | "scale" } = {},
  ): Promise<T> {
    const k = this.address(type, objectKey(key));
    const sub = opts.subresource;
    const request = `PATCH ${pathOf(type, k.namespace, k.name, sub)}`;
    const act = action("patch", type, k, sub, opts);
    act.patchType = patchType;
    await this.before(act, patch, opts.signal);
    if ((sub === "status" && !type.subresources.status) || (sub === "scale" && !type.subresources.scale)) {
      throw noSuchResource(request);
    }
    const bucket = this.bucket(type);
    const storeKey = keyFor(k.namespace, k.name);
    const stored = bucket.objects.get(storeKey);
    if (!stored) throw notFound(type, k.name, request);
    if (sub === "scale") {
      const patched = applyPatch(scaleOf(stored), patchType, patch, request) as Obj;
      const m = (patched.metadata ?? {}) as ObjectMeta;
      this.checkPreconditions(type, stored, m, request);
      const replicas = (patched.spec as { replicas?: unknown } | undefined)?.replicas;
      if (replicas !== undefined && (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0)) {
        throw invalidError(
          { kind: "Scale", group: "autoscaling" },
          k.name,
          [
            cause(
              "spec.replicas",
              "FieldValueInvalid",
              `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
            ),
          ],
          request,
        );
      }
      const next = clone(stored);
      const spec = { ...((next.spec as Record<string, unknown> | undefined) ?? {}) };
      if (replicas === undefined) delete spec.replicas;
      else spec.replicas = replicas;
      next.spec = spec;
      const written = this.write(bucket, storeKey, stored, this.prepare(type, stored, next, false, request), opts);
      // As with the real client, write listeners are not told: the answer is a Scale, not the object.
      return scaleOf(written) as unknown as T;
    }
    const patched = applyPatch(clone(stored), patchType, patch, request);
    if (!isObject(patched) || !isObject(patched.metadata)) {
      throw badRequest("the patched object has no metadata", request);
    }
    const result = this.modify(type, bucket, storeKey, stored, patched as Obj, sub === "status", opts, request);
    return this.result(type, as<T>(result), opts, "patch");
  }

  /**
   * Server-side apply, approximated: the configuration is merged into the object (created when missing) like a
   * JSON merge patch. Field ownership and conflicts between managers are not modelled; `force` is ignored.
   */
  async apply<T extends KubeObject>(
    type: ResourceType<T>,
    obj: DeepPartial<T> & KubeObject,
    opts: ApplyOptions & { subresource?: "status" } = {},
  ): Promise<T> {
    const fieldManager = opts.fieldManager ?? this.fieldManager;
    if (!fieldManager) throw new Error("server-side apply needs a fieldManager (in the options or the client's)");
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${type.kind}: metadata.name is required`);
    const k = this.address(type, { namespace: obj.metadata?.namespace, name });
    const sub = opts.subresource;
    const request = `PATCH ${pathOf(type, k.namespace, k.name, sub)}`;
    await this.before(action("apply", type, k, sub, opts), obj, opts.signal);
    if (sub === "status" && !type.subresources.status) throw noSuchResource(request);
    const config = this.typed(type, obj as KubeObject);
    const bucket = this.bucket(type);
    const storeKey = keyFor(k.namespace, k.name);
    const stored = bucket.objects.get(storeKey);
    if (!stored) {
      if (sub === "status") throw notFound(type, k.name, request);
      const created = this.createObject(type, withoutNulls(config) as Obj, request, opts.dryRun);
      return this.result(type, as<T>(created), opts, "patch");
    }
    const merged = applyMergePatch(clone(stored), config) as Obj;
    const result = this.modify(type, bucket, storeKey, stored, merged, sub === "status", opts, request);
    return this.result(type, as<T>(result), opts, "patch");
  }

  /**
   * Deletes an object. Without finalizers it is removed at once and the answer is a Success Status; with
   * finalizers it gets a deletionTimestamp and is returned, and it is removed once a write leaves it without
   * finalizers. Removing an object garbage-collects its dependents (Background); Foreground deletes them first
   * (the owner waits for those with blockOwnerDeletion); Orphan removes their ownerReferences instead.
   */
  async delete<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    opts: DeleteOptions = {},
  ): Promise<T | StatusBody> {
    const k = this.address(type, objectKey(key));
    const request = `DELETE ${pathOf(type, k.namespace, k.name)}`;
    await this.before(action("delete", type, k, undefined, opts), undefined, opts.signal);
    const bucket = this.bucket(type);
    const storeKey = keyFor(k.namespace, k.name);
    const stored = bucket.objects.get(storeKey);
    if (!stored) throw notFound(type, k.name, request);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== stored.metadata.uid) {
      throw conflict(
        type,
        k.name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${stored.metadata.uid}`,
        request,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== stored.metadata.resourceVersion) {
      throw conflict(
        type,
        k.name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${stored.metadata.resourceVersion}`,
        request,
      );
    }
    const policy = opts.propagationPolicy ?? "Background";
    if (opts.dryRun) {
      if (stored.metadata.deletionTimestamp) return as<T>(clone(stored));
      const finalizers = withPolicyFinalizer(stored.metadata.finalizers ?? [], policy);
      if (finalizers.length === 0) return successStatus(type, stored);
      return as<T>(this.markDeleting(clone(stored), finalizers));
    }
    const remaining = this.deleteObject(bucket, storeKey, policy);
    this.deleted(type, k, remaining);
    return remaining ? as<T>(remaining) : successStatus(type, stored);
  }

  // ---------------------------------------------------------------------------------------------- internals

  /** Dry runs are not written, so write listeners hear only of real writes. */
  private result<T extends KubeObject>(
    type: ResourceType<T>,
    obj: T,
    opts: { dryRun?: boolean },
    verb: "create" | "update" | "patch",
  ): T {
    return opts.dryRun ? obj : this.wrote(type, obj, verb);
  }

  private async before(act: FakeAction, body: unknown, signal: AbortSignal | undefined): Promise<void> {
    // A write the fence refuses is never sent, so it is not recorded either.
    if (act.verb !== "get" && act.verb !== "list" && act.verb !== "watch") {
      this.admitWrite(act, { namespace: act.namespace, name: act.name ?? "" });
    }
    this.actions.push(act);
    if (signal?.aborted) throw signal.reason;
    const err = await this.intercept?.(act, body === undefined ? undefined : clone(body));
    if (err) throw err;
  }

  /** Validates a key like the real client's paths do; cluster-scoped kinds ignore the namespace. */
  private address(type: ResourceType, k: ObjectKey): { namespace: string | undefined; name: string } {
    if (!k.name) throw new Error(`${type.kind}: a name is required`);
    if (type.namespaced && !k.namespace) {
      throw new Error(`${type.kind} is namespaced: a namespace is required to address "${k.name}"`);
    }
    return { namespace: type.namespaced ? k.namespace : undefined, name: k.name };
  }

  private bucket(type: ResourceType): Bucket {
    const id = `${type.apiVersion}/${type.kind}`;
    let b = this.buckets.get(id);
    if (!b) {
      b = { type, objects: new Map(), history: [], floor: this.compactedRv, watchers: new Set() };
      this.buckets.set(id, b);
    }
    return b;
  }

  private sorted(bucket: Bucket): Array<[string, Obj]> {
    // etcd returns keys in byte order: namespace/name.
    return [...bucket.objects].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private timestamp(): string {
    return this.clock()
      .toISOString()
      .replace(/\.\d+Z$/, "Z");
  }

  /** A deep copy with apiVersion, kind and a metadata object. */
  private typed(type: ResourceType, input: KubeObject): Obj {
    const obj = clone(input) as Obj;
    const { apiVersion: _a, kind: _k, ...rest } = obj;
    return { apiVersion: type.apiVersion, kind: type.kind, ...rest, metadata: obj.metadata ?? {} };
  }

  private bookmarkObject(type: ResourceType, annotations?: Record<string, string>): unknown {
    return {
      apiVersion: type.apiVersion,
      kind: type.kind,
      metadata: { resourceVersion: String(this.rv), ...(annotations ? { annotations } : {}) },
    };
  }

  private createObject(type: ResourceType, input: KubeObject, request: string, dryRun: boolean | undefined): Obj {
    const obj = this.typed(type, input);
    const m = obj.metadata;
    if (type.namespaced) {
      if (!m.namespace) throw new Error(`${type.kind} is namespaced: metadata.namespace is required`);
    } else {
      // The apiserver clears a namespace sent for a cluster-scoped kind.
      delete m.namespace;
    }
    if (m.resourceVersion) throw badRequest("resourceVersion should not be set on objects to be created", request);
    const bucket = this.bucket(type);
    if (!m.name) {
      if (!m.generateName) {
        throw invalidError(
          type,
          "",
          [cause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")],
          request,
        );
      }
      do {
        m.name = m.generateName + randomSuffix();
      } while (bucket.objects.has(keyFor(m.namespace, m.name)));
    }
    const nameProblem = pathSegmentProblem(m.name);
    if (nameProblem) {
      throw invalidError(
        type,
        m.name,
        [cause("metadata.name", "FieldValueInvalid", `Invalid value: ${JSON.stringify(m.name)}: ${nameProblem}`)],
        request,
      );
    }
    const key = keyFor(m.namespace, m.name);
    if (bucket.objects.has(key)) throw alreadyExists(type, m.name, request);
    m.uid = randomUUID();
    m.creationTimestamp = this.timestamp();
    m.generation = 1;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.managedFields;
    delete m.selfLink;
    if (type.subresources.status) delete obj.status;
    normalize(obj);
    if (dryRun) return clone(obj);
    return this.commit(bucket, key, obj);
  }

  private async put<T extends KubeObject>(
    type: ResourceType<T>,
    obj: T,
    opts: WriteOptions,
    status: boolean,
  ): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${type.kind}: metadata.name is required`);
    const k = this.address(type, { namespace: obj.metadata?.namespace, name });
    const sub = status ? "status" : undefined;
    const request = `PUT ${pathOf(type, k.namespace, k.name, sub)}`;
    await this.before(action("update", type, k, sub, opts), obj, opts.signal);
    if (status && !type.subresources.status) throw noSuchResource(request);
    const bucket = this.bucket(type);
    const key = keyFor(k.namespace, k.name);
    const stored = bucket.objects.get(key);
    if (!stored) throw notFound(type, k.name, request);
    const incoming = this.typed(type, obj);
    const result = this.modify(type, bucket, key, stored, incoming, status, opts, request);
    return this.result(type, as<T>(result), opts, "update");
  }

  /** The shared path of update, patch and apply on an existing object. */
  private modify(
    type: ResourceType,
    bucket: Bucket,
    key: string,
    stored: Obj,
    incoming: Obj,
    status: boolean,
    opts: { dryRun?: boolean },
    request: string,
  ): Obj {
    const m = incoming.metadata ?? {};
    const otherNamespace = type.namespaced && m.namespace && m.namespace !== stored.metadata.namespace;
    if ((m.name && m.name !== stored.metadata.name) || otherNamespace) {
      throw badRequest(
        `the name or namespace of the object (${keyFor(m.namespace, m.name ?? "")}) does not match the request (${key})`,
        request,
      );
    }
    this.checkPreconditions(type, stored, m, request);
    return this.write(bucket, key, stored, this.prepare(type, stored, incoming, status, request), opts);
  }

  private checkPreconditions(type: ResourceType, stored: Obj, m: ObjectMeta, request: string): void {
    const name = stored.metadata.name as string;
    if (m.uid && m.uid !== stored.metadata.uid) {
      throw conflict(
        type,
        name,
        `Precondition failed: UID in precondition: ${m.uid}, UID in object meta: ${stored.metadata.uid}`,
        request,
      );
    }
    if (m.resourceVersion && m.resourceVersion !== stored.metadata.resourceVersion) {
      throw conflict(
        type,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
        request,
      );
    }
  }

  /**
   * What the apiserver would store for a write of `incoming` over `stored`: system metadata kept, the status
   * kept (main resource) or only the status taken (status subresource), generation bumped on spec changes, and
   * new finalizers refused on an object being deleted.
   */
  private prepare(type: ResourceType, stored: Obj, incoming: Obj, status: boolean, request: string): Obj {
    let next: Obj;
    if (status) {
      next = clone(stored);
      if (incoming.status === undefined) delete next.status;
      else next.status = clone(incoming.status);
    } else {
      next = { ...incoming, apiVersion: type.apiVersion, kind: type.kind, metadata: { ...(incoming.metadata ?? {}) } };
      const m = next.metadata;
      const s = stored.metadata;
      m.name = s.name;
      setOrDelete(m, "namespace", s.namespace);
      m.uid = s.uid;
      m.creationTimestamp = s.creationTimestamp;
      setOrDelete(m, "generation", s.generation);
      setOrDelete(m, "deletionTimestamp", s.deletionTimestamp);
      setOrDelete(m, "deletionGracePeriodSeconds", s.deletionGracePeriodSeconds);
      m.resourceVersion = s.resourceVersion;
      delete m.managedFields;
      delete m.selfLink;
      if (type.subresources.status) {
        if (stored.status === undefined) delete next.status;
        else next.status = clone(stored.status);
      }
      normalize(next);
      if (s.deletionTimestamp) {
        const before = new Set(s.finalizers ?? []);
        const added = (m.finalizers ?? []).filter((f) => !before.has(f));
        if (added.length > 0) {
          throw invalidError(
            type,
            s.name ?? "",
            [
              cause(
                "metadata.finalizers",
                "FieldValueForbidden",
                `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
              ),
            ],
            request,
          );
        }
      }
    }
    if (!deepEqual(specOf(type, stored), specOf(type, next))) {
      next.metadata.generation = (stored.metadata.generation ?? 0) + 1;
    }
    return next;
  }

  /** Stores `next` over `stored` (nothing when they are equal), removing it when deletion is complete. */
  private write(bucket: Bucket, key: string, stored: Obj, next: Obj, opts: { dryRun?: boolean }): Obj {
    // Like the apiserver, a write that changes nothing stores nothing and keeps the resourceVersion.
    if (deepEqual(stored, next)) return clone(stored);
    if (opts.dryRun) return clone(next);
    const written = this.commit(bucket, key, next);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) return this.remove(bucket, key);
    return written;
  }

  /** Stores an object under a new resourceVersion and tells the watches. `obj` must not be changed afterwards. */
  private commit(bucket: Bucket, key: string, obj: Obj): Obj {
    const prev = bucket.objects.get(key);
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    bucket.objects.set(key, obj);
    if (obj.metadata.uid) this.uids.add(obj.metadata.uid);
    this.record(bucket, { rv, type: prev ? "MODIFIED" : "ADDED", object: obj, prev });
    return clone(obj);
  }

  /** Removes an object (its last state, under a new resourceVersion), then collects its garbage. */
  private remove(bucket: Bucket, key: string): Obj {
    const prev = bucket.objects.get(key);
    if (!prev) throw new Error(`internal: ${key} is not stored`);
    const rv = ++this.rv;
    const last = clone(prev);
    last.metadata.resourceVersion = String(rv);
    bucket.objects.delete(key);
    const uid = prev.metadata.uid;
    if (uid) this.uids.delete(uid);
    this.record(bucket, { rv, type: "DELETED", object: last, prev });
    if (uid) this.collect(uid);
    this.settleForeground();
    return clone(last);
  }

  private markDeleting(obj: Obj, finalizers: string[]): Obj {
    const m = obj.metadata;
    // The apiserver bumps the generation when it first sets a deletionTimestamp.
    if ((m.generation ?? 0) > 0) m.generation = (m.generation as number) + 1;
    m.deletionTimestamp = this.timestamp();
    m.deletionGracePeriodSeconds = 0;
    m.finalizers = finalizers;
    return obj;
  }

  /** Deletes a stored object with a propagation policy; returns it when it remains (finalizers hold it). */
  private deleteObject(bucket: Bucket, key: string, policy: "Foreground" | "Background" | "Orphan"): Obj | undefined {
    const stored = bucket.objects.get(key);
    if (!stored) return undefined;
    if (stored.metadata.deletionTimestamp) return clone(stored);
    const finalizers = withPolicyFinalizer(stored.metadata.finalizers ?? [], policy);
    if (finalizers.length === 0) {
      this.remove(bucket, key);
      return undefined;
    }
    const marked = this.commit(bucket, key, this.markDeleting(clone(stored), finalizers));
    const uid = stored.metadata.uid;
    if (uid && policy === "Orphan") {
      for (const [b, k] of this.dependentsOf(uid)) {
        this.mutateStored(b, k, (o) => {
          o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
        });
      }
      this.mutateStored(bucket, key, (o) => {
        o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f) => f !== "orphan");
      });
    }
    if (uid && policy === "Foreground") {
      for (const [b, k] of this.dependentsOf(uid)) {
        const dep = b.objects.get(k);
        const hasOwn = dep?.metadata.uid ? this.dependentsOf(dep.metadata.uid).length > 0 : false;
        this.deleteObject(b, k, hasOwn ? "Foreground" : "Background");
      }
      this.settleForeground();
    }
    return marked;
  }

  /** A write made by the fake's own "controllers" (the garbage collector). */
  private mutateStored(bucket: Bucket, key: string, mutate: (o: Obj) => void): void {
    const stored = bucket.objects.get(key);
    if (!stored) return;
    const next = clone(stored);
    mutate(next);
    normalize(next);
    this.write(bucket, key, stored, next, {});
  }

  private dependentsOf(uid: string): Array<[Bucket, string]> {
    const out: Array<[Bucket, string]> = [];
    for (const b of this.buckets.values()) {
      for (const [key, o] of b.objects) if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) out.push([b, key]);
    }
    return out;
  }

  /**
   * The garbage collector, after `uid` was removed: dependents left without any existing owner are deleted
   * (Background); those with other owners only lose their dangling references.
   */
  private collect(uid: string): void {
    for (const [b, key] of this.dependentsOf(uid)) {
      const o = b.objects.get(key);
      if (!o) continue;
      const refs: OwnerReference[] = o.metadata.ownerReferences ?? [];
      if (refs.some((r) => this.uids.has(r.uid))) {
        this.mutateStored(b, key, (n) => {
          n.metadata.ownerReferences = refs.filter((r) => this.uids.has(r.uid));
        });
      } else {
        this.deleteObject(b, key, "Background");
      }
    }
  }

  /** Finishes foreground deletions whose blocking dependents are all gone. */
  private settleForeground(): void {
    if (this.settling) {
      this.settleAgain = true;
      return;
    }
    this.settling = true;
    try {
      do {
        this.settleAgain = false;
        for (const b of this.buckets.values()) {
          for (const [key, o] of [...b.objects]) {
            const uid = o.metadata.uid;
            if (!uid || !o.metadata.deletionTimestamp || !o.metadata.finalizers?.includes("foregroundDeletion"))
              continue;
            const blocked = this.dependentsOf(uid).some(([db, dk]) =>
              db.objects.get(dk)?.metadata.ownerReferences?.some((r) => r.uid === uid && r.blockOwnerDeletion),
            );
            if (blocked) continue;
            this.mutateStored(b, key, (n) => {
              n.metadata.finalizers = (n.metadata.finalizers ?? []).filter((f) => f !== "foregroundDeletion");
            });
            this.settleAgain = true;
          }
        }
      } while (this.settleAgain);
    } finally {
      this.settling = false;
    }
  }

  private record(bucket: Bucket, event: HistoryEvent): void {
    bucket.history.push(event);
    while (bucket.history.length > this.historyLimit) {
      const dropped = bucket.history.shift();
      if (dropped) bucket.floor = dropped.rv;
    }
    for (const w of bucket.watchers) this.deliver(w, event);
  }

  /** Delivers one change to a watch, as the apiserver's watch cache does for filtered watches. */
  private deliver(w: Watcher, event: HistoryEvent): void {
    const now = event.type !== "DELETED" && w.matches(event.object);
    const before = event.prev !== undefined && w.matches(event.prev);
    let out: WatchEvent<unknown> | undefined;
    if (now && before) out = { type: "MODIFIED", object: this.view(w, event.object) };
    else if (now) out = { type: "ADDED", object: this.view(w, event.object) };
    else if (before && event.type === "DELETED") out = { type: "DELETED", object: this.view(w, event.object) };
    else if (before && event.prev) {
      // Leaving the selection: the previous state, with the event's resourceVersion.
      const last = clone(event.prev);
      last.metadata.resourceVersion = String(event.rv);
      out = { type: "DELETED", object: this.view(w, last) };
    }
    if (!out) return;
    w.queue.push(out);
    notify(w);
  }

  private view(w: Watcher, obj: Obj): unknown {
    return w.metadataOnly ? partial(obj) : clone(obj);
  }

  /**
   * Opens a watch at once (so that nothing written after watch() returns is missed, bookmarks included); problems
   * with the request are thrown by the first next(), as the real client's are.
   */
  private openWatch(
    type: ResourceType,
    namespace: string | undefined,
    opts: WatchOptions,
    request: string,
  ): { watcher: Watcher } | { error: unknown } {
    try {
      const matches = matcher(namespace, opts.labelSelector, opts.fieldSelector, request);
      if (opts.sendInitialEvents) {
        const problems: StatusCause[] = [];
        if (opts.resourceVersionMatch !== "NotOlderThan") {
          problems.push(
            cause(
              "resourceVersionMatch",
              "FieldValueForbidden",
              "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ),
          );
        }
        if (!opts.allowWatchBookmarks) {
          problems.push(
            cause(
              "allowWatchBookmarks",
              "FieldValueForbidden",
              "Forbidden: sendInitialEvents requires allowWatchBookmarks",
            ),
          );
        }
        if (problems.length) throw invalidError({ kind: "ListOptions", group: "meta.k8s.io" }, "", problems, request);
      }
      const initial = Boolean(opts.sendInitialEvents) || opts.resourceVersion === "0";
      let from = this.rv;
      if (!initial && opts.resourceVersion) {
        if (!/^\d+$/.test(opts.resourceVersion)) {
          throw badRequest(`invalid resource version "${opts.resourceVersion}"`, request);
        }
        from = Number(opts.resourceVersion);
      }
      const bucket = this.bucket(type);
      const signal = opts.signal;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => w.end();
      const w: Watcher = {
        matches,
        metadataOnly: Boolean(opts.metadataOnly),
        bookmarks: Boolean(opts.allowWatchBookmarks),
        queue: [],
        ended: false,
        waiting: undefined,
        end: () => {
          w.ended = true;
          bucket.watchers.delete(w);
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          notify(w);
        },
      };
      if (!initial && from < bucket.floor) {
        const status = {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `too old resource version: ${from} (${bucket.floor + 1})`,
          reason: "Expired",
          code: 410,
        };
        // One ERROR event, then the stream ends.
        w.queue.push({ type: "ERROR", object: status });
        w.ended = true;
        return { watcher: w };
      }
      bucket.watchers.add(w);
      if (initial) {
        for (const [, o] of this.sorted(bucket))
          if (matches(o)) w.queue.push({ type: "ADDED", object: this.view(w, o) });
        if (opts.sendInitialEvents && w.bookmarks) {
          w.queue.push({ type: "BOOKMARK", object: this.bookmarkObject(type, { [initialEventsEnd]: "true" }) });
        }
      } else {
        for (const event of bucket.history) if (event.rv > from) this.deliver(w, event);
      }
      signal?.addEventListener("abort", onAbort);
      if (signal?.aborted) w.end();
      if (opts.timeoutSeconds && opts.timeoutSeconds > 0) {
        timer = setTimeout(() => w.end(), opts.timeoutSeconds * 1000);
        timer.unref();
      }
      return { watcher: w };
    } catch (error) {
      return { error };
    }
  }

  private async *stream<T extends KubeObject>(
    opened: { watcher: Watcher } | { error: unknown },
    act: FakeAction,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<WatchEvent<T>> {
    const w = "watcher" in opened ? opened.watcher : undefined;
    try {
      if (signal?.aborted) throw signal.reason;
      const err = await this.intercept?.(act, undefined);
      if (err) throw err;
      if (!w) throw (opened as { error: unknown }).error;
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const next = w.queue.shift();
        if (next) {
          yield next as WatchEvent<T>;
          continue;
        }
        if (w.ended) return;
        await new Promise<void>((resolve) => {
          w.waiting = resolve;
        });
      }
    } finally {
      w?.end();
    }
  }
}

// ------------------------------------------------------------------------------------------------ helpers

function notify(w: Watcher): void {
  const wake = w.waiting;
  w.waiting = undefined;
  wake?.();
}

/** Stored objects are plain JSON; the type parameter of a verb only describes them. */
function as<T>(obj: Obj): T {
  return obj as unknown as T;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function keyFor(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function setOrDelete<K extends keyof ObjectMeta>(m: ObjectMeta, k: K, v: ObjectMeta[K] | undefined): void {
  if (v === undefined) delete m[k];
  else m[k] = v;
}

/** Empty lists and maps in metadata are absent once the apiserver has stored them. */
function normalize(obj: Obj): void {
  const m = obj.metadata;
  for (const k of ["finalizers", "ownerReferences"] as const) if (m[k] && m[k].length === 0) delete m[k];
  for (const k of ["labels", "annotations"] as const) if (m[k] && Object.keys(m[k]).length === 0) delete m[k];
  for (const k of Object.keys(m) as Array<keyof ObjectMeta>) if (m[k] === undefined || m[k] === null) delete m[k];
}

/** What counts for `generation`: everything but metadata (and status, when it is a subresource). */
function specOf(type: ResourceType, obj: Obj): Record<string, unknown> {
  const { metadata: _m, apiVersion: _a, kind: _k, ...rest } = obj;
  if (type.subresources.status) delete rest.status;
  return rest;
}

function withPolicyFinalizer(finalizers: string[], policy: "Foreground" | "Background" | "Orphan"): string[] {
  const extra = policy === "Orphan" ? "orphan" : policy === "Foreground" ? "foregroundDeletion" : undefined;
  return extra && !finalizers.includes(extra) ? [...finalizers, extra] : [...finalizers];
}

function randomSuffix(): string {
  let s = "";
  for (let i = 0; i < 5; i++) s += nameChars[Math.floor(Math.random() * nameChars.length)];
  return s;
}

/** The apiserver's minimal name rule (every kind must be addressable in a URL path). */
function pathSegmentProblem(name: string): string | undefined {
  if (name === "." || name === "..") return `may not be '${name}'`;
  if (name.includes("/")) return "may not contain '/'";
  if (name.includes("%")) return "may not contain '%'";
  return undefined;
}

/** Core and *.k8s.io groups are built in; their list items come without apiVersion and kind. */
function isBuiltIn(type: ResourceType): boolean {
  return !type.group.includes(".") || type.group.endsWith(".k8s.io");
}

function pathOf(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${type.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

function action(
  verb: FakeAction["verb"],
  type: ResourceType,
  k: { namespace?: string | undefined; name?: string | undefined },
  subresource?: "status" | "scale",
  opts?: { dryRun?: boolean },
): FakeAction {
  return {
    verb,
    apiVersion: type.apiVersion,
    kind: type.kind,
    ...(k.namespace ? { namespace: k.namespace } : {}),
    ...(k.name ? { name: k.name } : {}),
    ...(subresource ? { subresource } : {}),
    ...(opts?.dryRun ? { dryRun: true as const } : {}),
  };
}

function partial(obj: Obj): unknown {
  return { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata: clone(obj.metadata) };
}

function scaleOf(obj: Obj): Scale {
  const spec = obj.spec as { replicas?: number; selector?: LabelSelectorLike } | undefined;
  const status = obj.status as { replicas?: number; selector?: unknown } | undefined;
  const selector = typeof status?.selector === "string" ? status.selector : selectorString(spec?.selector);
  const m = obj.metadata;
  return {
    apiVersion: "autoscaling/v1",
    kind: "Scale",
    metadata: {
      name: m.name,
      ...(m.namespace ? { namespace: m.namespace } : {}),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: spec?.replicas !== undefined ? { replicas: spec.replicas } : {},
    status: { replicas: status?.replicas ?? 0, ...(selector ? { selector } : {}) },
  };
}

interface LabelSelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

function selectorString(sel: LabelSelectorLike | undefined): string | undefined {
  if (!sel) return undefined;
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const values = `(${(e.values ?? []).join(",")})`;
    if (e.operator === "In") parts.push(`${e.key} in ${values}`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin ${values}`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(",") : undefined;
}

function encodeContinue(rv: number, key: string): string {
  return Buffer.from(JSON.stringify({ v: "fake", rv, start: key })).toString("base64url");
}

function decodeContinue(token: string): { rv: number; key: string } | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      v?: unknown;
      rv?: unknown;
      start?: unknown;
    };
    if (t.v !== "fake" || typeof t.rv !== "number" || typeof t.start !== "string") return undefined;
    return { rv: t.rv, key: t.start };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------ errors

function qualifiedResource(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

function resourceDetails(type: ResourceType, name: string): NonNullable<StatusBody["details"]> {
  return { name, ...(type.group ? { group: type.group } : {}), kind: type.plural };
}

function notFound(type: ResourceType, name: string, request: string): ApiError {
  return fakeApiError(
    404,
    "NotFound",
    `${qualifiedResource(type)} "${name}" not found`,
    resourceDetails(type, name),
    request,
  );
}

function noSuchResource(request: string): ApiError {
  return fakeApiError(404, "NotFound", "the server could not find the requested resource", undefined, request);
}

function alreadyExists(type: ResourceType, name: string, request: string): ApiError {
  return fakeApiError(
    409,
    "AlreadyExists",
    `${qualifiedResource(type)} "${name}" already exists`,
    resourceDetails(type, name),
    request,
  );
}

function conflict(type: ResourceType, name: string, why: string, request: string): ApiError {
  return fakeApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${why}`,
    resourceDetails(type, name),
    request,
  );
}

function badRequest(message: string, request: string): ApiError {
  return fakeApiError(400, "BadRequest", message, undefined, request);
}

function cause(field: string, reason: string, message: string): StatusCause {
  return { reason, message, field };
}

function invalidError(
  kind: { kind: string; group: string },
  name: string,
  causes: StatusCause[],
  request: string,
): ApiError {
  const qualifiedKind = kind.group ? `${kind.kind}.${kind.group}` : kind.kind;
  const lines = causes.map((c) => `${c.field}: ${c.message}`);
  const list = lines.length === 1 ? lines[0] : `[${lines.join(", ")}]`;
  return fakeApiError(
    422,
    "Invalid",
    `${qualifiedKind} "${name}" is invalid: ${list}`,
    { name, ...(kind.group ? { group: kind.group } : {}), kind: kind.kind, causes },
    request,
  );
}

function successStatus(type: ResourceType, obj: Obj): StatusBody {
  const body = {
    kind: "Status" as const,
    apiVersion: "v1",
    metadata: {},
    status: "Success" as const,
    details: {
      ...resourceDetails(type, obj.metadata.name ?? ""),
      ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
    },
  };
  return body;
}

// ------------------------------------------------------------------------------------------------ patches

function applyPatch(doc: unknown, patchType: PatchType, patch: unknown, request: string): unknown {
  if (patchType === "json") {
    if (!Array.isArray(patch)) {
      throw badRequest(`json: cannot unmarshal ${typeof patch} into Go value of type jsonpatch.Patch`, request);
    }
    try {
      return applyJsonPatch(doc, patch as JsonPatchOperation[]);
    } catch (err) {
      if (!(err instanceof JsonPatchError)) throw err;
      return rejectPatch(err.message, request);
    }
  }
  // Strategic merge patches are approximated as JSON merge patches.
  if (!isObject(patch)) throw badRequest("a merge patch must be a JSON object", request);
  return applyMergePatch(doc, patch);
}

function rejectPatch(message: string, request: string): never {
  throw apiErrorFor(
    422,
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "the server rejected our request due to an error in our request",
      reason: "Invalid",
      details: { causes: [{ message }] },
      code: 422,
    },
    request,
  );
}

function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = withoutNulls(x);
  return out;
}

// ------------------------------------------------------------------------------------------------ selectors

function matcher(
  namespace: string | undefined,
  labelSelector: string | undefined,
  fieldSelector: string | undefined,
  request: string,
): ObjMatcher {
  let labels: LabelMatcher | undefined;
  let fields: FieldMatcher | undefined;
  try {
    labels = labelSelector ? parseLabelSelector(labelSelector) : undefined;
    fields = fieldSelector ? parseFieldSelector(fieldSelector) : undefined;
  } catch (err) {
    throw badRequest((err as Error).message, request);
  }
  return (o) =>
    (!namespace || o.metadata.namespace === namespace) &&
    (!labels || labels(o.metadata.labels)) &&
    (!fields || fields(o));
}
