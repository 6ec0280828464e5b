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
import type { ObjectMeta } from "../../types/generated/meta.v1.ts";
import type { KubeObject, ResourceType } from "../../types/resource.ts";
// The verbs' vocabulary, qualified: this class implements what api.ts declares on ClientBase.
import type * as api from "../api.ts";
import { ClientBase, objectKey } from "../api.ts";
import type { StatusBody } from "../errors.ts";
import { applyJsonPatch, applyMergePatch, isJsonObject, JsonPatchError, type JsonPatchOperation } from "../patch.ts";
import { resourcePath } from "../paths.ts";
import {
  badRequest,
  cause,
  invalidError,
  noSuchResource,
  notFound,
  patchRejected,
  preconditionFailed,
  successStatus,
} from "./errors.ts";
import { as, clone, isBuiltIn, type Obj, partial, scaleOf } from "./objects.ts";
import { type Address, matcher, ObjectTracker } from "./tracker.ts";
import { streamOf, Watches } from "./watch.ts";

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
  patchType?: api.PatchType;
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

/**
 * The fake. Construct it with seed objects, hand it to reconciles or a Manager (`{ client: fake }`), then look at
 * the store (`peek`, `peekList`, or the verbs) and at `actions`.
 */
export class FakeClient extends ClientBase implements api.KubeClient {
  /** Every call in order, reads included (see `writes()` for the writes only). */
  readonly actions: FakeAction[] = [];
  /** Replaceable at any time; see FakeInterceptor. */
  intercept: FakeInterceptor | undefined;
  private readonly watches: Watches;
  private readonly tracker: ObjectTracker;

  constructor(options: FakeClientOptions = {}) {
    super(options.fieldManager);
    this.intercept = options.intercept;
    const watches = new Watches(Math.max(1, options.watchHistory ?? 1000));
    this.watches = watches;
    this.tracker = new ObjectTracker({
      now: options.now ?? (() => new Date()),
      onChange: (type, event) => watches.record(type, event),
    });
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
    return objects.map((input) => as<T>(this.tracker.seed(type, input)));
  }

  /** The stored object (a copy), or undefined; not recorded as an action. */
  peek<T extends KubeObject>(type: ResourceType<T>, key: api.ObjectKey | string): T | undefined {
    const k = objectKey(key);
    const found = this.tracker.get(type, { namespace: type.namespaced ? k.namespace : undefined, name: k.name });
    return found ? as<T>(clone(found)) : undefined;
  }

  /** Every stored object of a kind (copies, sorted by namespace and name), optionally in one namespace. */
  peekList<T extends KubeObject>(type: ResourceType<T>, namespace?: string): T[] {
    return this.tracker
      .sorted(type)
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
    this.watches.bookmark(this.tracker.revision);
  }

  /**
   * Forgets the watch history, like an etcd compaction: watches that resume from any resourceVersion before now
   * get a 410 Expired ERROR event (and informers relist).
   */
  compact(): void {
    this.watches.compact(this.tracker.revision);
  }

  /** The current (newest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.tracker.revision);
  }

  /** Ends every open watch cleanly (their consumers see the stream end). The fake stays usable. */
  async close(): Promise<void> {
    this.watches.close();
  }

  // ---------------------------------------------------------------------------------------------- reads

  async get<T extends KubeObject>(
    type: ResourceType<T>,
    key: api.ObjectKey | string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const k = this.address(type, objectKey(key));
    await this.before(action("get", type, k), undefined, opts.signal);
    const found = this.tracker.get(type, k);
    if (!found) throw notFound(type, k.name, `GET ${resourcePath(type, k.namespace, k.name)}`);
    return as<T>(clone(found));
  }

  async list<T extends KubeObject>(type: ResourceType<T>, opts: api.ListOptions = {}): Promise<api.ListResult<T>> {
    const namespace = type.namespaced ? opts.namespace || undefined : undefined;
    await this.before(action("list", type, { namespace }), undefined, opts.signal);
    const request = `GET ${resourcePath(type, namespace)}`;
    const matches = matcher(namespace, opts.labelSelector, opts.fieldSelector, request);
    let after: string | undefined;
    let listRv = this.tracker.revision;
    if (opts.continue) {
      const token = decodeContinue(opts.continue);
      if (!token) throw badRequest(`invalid continue token "${opts.continue}"`, request);
      after = token.key;
      listRv = token.rv;
    }
    const all = this.tracker.sorted(type).filter(([key, o]) => (after === undefined || key > after) && matches(o));
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    const page = limit ? all.slice(0, limit) : all;
    const more = limit !== undefined && all.length > limit;
    const metadata: api.ListResult<T>["metadata"] = { resourceVersion: String(listRv) };
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
  watch<T extends KubeObject>(type: ResourceType<T>, opts: api.WatchOptions = {}): AsyncGenerator<api.WatchEvent<T>> {
    const namespace = type.namespaced ? opts.namespace || undefined : undefined;
    const act = action("watch", type, { namespace });
    this.actions.push(act);
    const opened = this.watches.open(type, namespace, opts, `WATCH ${resourcePath(type, namespace)}`, this.tracker);
    return streamOf<T>(
      opened,
      async () => {
        const err = await this.intercept?.(act, undefined);
        if (err) throw err;
      },
      opts.signal,
    );
  }

  async getScale(type: ResourceType, key: api.ObjectKey | string): Promise<api.Scale> {
    const k = this.address(type, objectKey(key));
    const request = `GET ${resourcePath(type, k.namespace, k.name, "scale")}`;
    await this.before(action("get", type, k, "scale"), undefined, undefined);
    if (!type.subresources.scale) throw noSuchResource(request);
    const found = this.tracker.get(type, k);
    if (!found) throw notFound(type, k.name, request);
    return scaleOf(found);
  }

  // ---------------------------------------------------------------------------------------------- writes

  async create<T extends KubeObject>(type: ResourceType<T>, obj: T, opts: api.WriteOptions = {}): Promise<T> {
    const namespace = obj.metadata?.namespace;
    if (type.namespaced && !namespace) throw new Error(`${type.kind} is namespaced: metadata.namespace is required`);
    const ns = type.namespaced ? namespace : undefined;
    const name = obj.metadata?.name || undefined;
    await this.before(action("create", type, { namespace: ns, name }, undefined, opts), obj, opts.signal);
    const created = this.tracker.create(type, obj, `POST ${resourcePath(type, ns)}`, opts.dryRun);
    return this.result(type, as<T>(created), opts, "create");
  }

  /** Replaces the object (its status is kept when the kind has a status subresource). */
  update<T extends KubeObject>(type: ResourceType<T>, obj: T, opts: api.WriteOptions = {}): Promise<T> {
    return this.put(type, obj, opts, false);
  }

  /** Replaces the status only. */
  updateStatus<T extends KubeObject>(type: ResourceType<T>, obj: T, opts: api.WriteOptions = {}): Promise<T> {
    return this.put(type, obj, opts, true);
  }

  async patch<T extends KubeObject>(
    type: ResourceType<T>,
    key: api.ObjectKey | string,
    patchType: api.PatchType,
    patch: unknown,
    opts: api.WriteOptions & { subresource?: "status" | "scale" } = {},
  ): Promise<T> {
    const k = this.address(type, objectKey(key));
    const sub = opts.subresource;
    const request = `PATCH ${resourcePath(type, k.namespace, k.name, sub)}`;
    const act = action("patch", type, k, sub, opts);
    act.patchType = patchType;
    await this.before(act, patch, opts.signal);
    if ((sub === "status" && !type.subresources.status) || (sub === "scale" && !type.subresources.scale)) {
      throw noSuchResource(request);
    }
    const stored = this.tracker.get(type, k);
    if (!stored) throw notFound(type, k.name, request);
    if (sub === "scale") {
      const patched = applyPatch(scaleOf(stored), patchType, patch, request) as Obj;
      const m = (patched.metadata ?? {}) as ObjectMeta;
      this.tracker.checkPreconditions(type, stored, m, request);
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
      const written = this.tracker.modify(type, k, stored, next, false, opts, request);
      // As with the real client, write listeners are not told: the answer is a Scale, not the object.
      return scaleOf(written) as unknown as T;
    }
    const patched = applyPatch(clone(stored), patchType, patch, request);
    if (!isJsonObject(patched) || !isJsonObject(patched.metadata)) {
      throw badRequest("the patched object has no metadata", request);
    }
    const result = this.tracker.modify(type, k, stored, patched as Obj, sub === "status", opts, request);
    return this.result(type, as<T>(result), opts, "patch");
  }

  /**
   * Server-side apply, approximated: the configuration is merged into the object (created when missing) like a
   * JSON merge patch. Field ownership and conflicts between managers are not modelled; `force` is ignored.
   */
  async apply<T extends KubeObject>(
    type: ResourceType<T>,
    obj: api.DeepPartial<T> & KubeObject,
    opts: api.ApplyOptions & { subresource?: "status" } = {},
  ): Promise<T> {
    this.applyFieldManager(opts);
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${type.kind}: metadata.name is required`);
    const k = this.address(type, { namespace: obj.metadata?.namespace, name });
    const sub = opts.subresource;
    const request = `PATCH ${resourcePath(type, k.namespace, k.name, sub)}`;
    await this.before(action("apply", type, k, sub, opts), obj, opts.signal);
    if (sub === "status" && !type.subresources.status) throw noSuchResource(request);
    const config = this.tracker.typed(type, obj as KubeObject);
    const stored = this.tracker.get(type, k);
    if (!stored) {
      if (sub === "status") throw notFound(type, k.name, request);
      const created = this.tracker.create(type, withoutNulls(config) as Obj, request, opts.dryRun);
      return this.result(type, as<T>(created), opts, "patch");
    }
    const merged = applyMergePatch(clone(stored), config) as Obj;
    const result = this.tracker.modify(type, k, stored, merged, sub === "status", opts, request);
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
    key: api.ObjectKey | string,
    opts: api.DeleteOptions = {},
  ): Promise<T | StatusBody> {
    const k = this.address(type, objectKey(key));
    const request = `DELETE ${resourcePath(type, k.namespace, k.name)}`;
    await this.before(action("delete", type, k, undefined, opts), undefined, opts.signal);
    const stored = this.tracker.get(type, k);
    if (!stored) throw notFound(type, k.name, request);
    const pre = opts.preconditions;
    const { uid, resourceVersion } = stored.metadata;
    if (pre?.uid && pre.uid !== uid) throw preconditionFailed(type, k.name, "UID", pre.uid, uid, request);
    if (pre?.resourceVersion && pre.resourceVersion !== resourceVersion) {
      throw preconditionFailed(type, k.name, "ResourceVersion", pre.resourceVersion, resourceVersion, request);
    }
    const policy = opts.propagationPolicy ?? "Background";
    if (opts.dryRun) {
      const remaining = this.tracker.deleteDryRun(stored, policy);
      return remaining ? as<T>(remaining) : successStatus(type, stored);
    }
    const remaining = this.tracker.delete(type, k, policy);
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
  private address(type: ResourceType, k: api.ObjectKey): Address {
    if (!k.name) throw new Error(`${type.kind}: a name is required`);
    if (type.namespaced && !k.namespace) {
      throw new Error(`${type.kind} is namespaced: a namespace is required to address "${k.name}"`);
    }
    return { namespace: type.namespaced ? k.namespace : undefined, name: k.name };
  }

  private async put<T extends KubeObject>(
    type: ResourceType<T>,
    obj: T,
    opts: api.WriteOptions,
    status: boolean,
  ): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${type.kind}: metadata.name is required`);
    const k = this.address(type, { namespace: obj.metadata?.namespace, name });
    const sub = status ? "status" : undefined;
    const request = `PUT ${resourcePath(type, k.namespace, k.name, sub)}`;
    await this.before(action("update", type, k, sub, opts), obj, opts.signal);
    if (status && !type.subresources.status) throw noSuchResource(request);
    const stored = this.tracker.get(type, k);
    if (!stored) throw notFound(type, k.name, request);
    const incoming = this.tracker.typed(type, obj);
    const result = this.tracker.modify(type, k, stored, incoming, status, opts, request);
    return this.result(type, as<T>(result), opts, "update");
  }
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

/** Applies a patch of any type as the apiserver would, failing as it does. */
function applyPatch(doc: unknown, patchType: api.PatchType, patch: unknown, request: string): unknown {
  if (patchType === "json") {
    if (!Array.isArray(patch)) {
      throw badRequest(`json: cannot unmarshal ${typeof patch} into Go value of type jsonpatch.Patch`, request);
    }
    try {
      return applyJsonPatch(doc, patch as JsonPatchOperation[]);
    } catch (err) {
      if (!(err instanceof JsonPatchError)) throw err;
      throw patchRejected(err.message, request);
    }
  }
  // Strategic merge patches are approximated as JSON merge patches.
  if (!isJsonObject(patch)) throw badRequest("a merge patch must be a JSON object", request);
  return applyMergePatch(doc, patch);
}

/** An apply configuration that creates an object: its nulls (which would remove fields) say nothing. */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (!isJsonObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = withoutNulls(x);
  return out;
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
