import type { KubeObject, ResourceType } from "../types/resource.ts";
import { type LoadOptions, loadConnection } from "./config.ts";
import { isConflict, isNotFound, type StatusBody } from "./errors.ts";
import { deepEqual, mergePatch } from "./patch.ts";
import { type Query, Transport, type TransportOptions } from "./transport.ts";

/** Namespace and name of one object; `namespace` is left out for cluster-scoped kinds. */
export interface ObjectKey {
  namespace?: string | undefined;
  name: string;
}

export interface ListOptions {
  /** Omit for all namespaces (or for cluster-scoped kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; with `continue` for the next page. `listAll` pages by itself. */
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: "Exact" | "NotOlderThan";
  /** Only metadata (PartialObjectMetadata): a fraction of the bytes and memory when specs are not needed. */
  metadataOnly?: boolean;
  signal?: AbortSignal;
}

export interface ListResult<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Start after this version (from a list, or the last event seen). */
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** Streaming list: initial ADDED events, then a BOOKMARK annotated `k8s.io/initial-events-end`. */
  sendInitialEvents?: boolean;
  resourceVersionMatch?: "NotOlderThan" | "Exact";
  /** Server-side timeout; the stream ends cleanly after it. */
  timeoutSeconds?: number;
  /** Events carry PartialObjectMetadata only. */
  metadataOnly?: boolean;
  signal?: AbortSignal;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One watch event. For ERROR, `object` is a Status (e.g. 410 Gone: the resourceVersion is too old). */
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** Recorded in managedFields; defaults to the client's fieldManager. */
  fieldManager?: string;
  fieldValidation?: "Strict" | "Warn" | "Ignore";
  signal?: AbortSignal;
}

export interface ApplyOptions extends WriteOptions {
  /** Take ownership of fields another manager owns instead of failing with a conflict. */
  force?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
  /** Delete only if the object still has this uid / resourceVersion (else 409 Conflict). */
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  signal?: AbortSignal;
}

export type PatchType = "merge" | "json" | "strategic";

const patchContentTypes: Record<PatchType | "apply", string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

/** The autoscaling/v1 Scale object of the scale subresource. */
export interface Scale {
  apiVersion?: "autoscaling/v1";
  kind?: "Scale";
  metadata?: KubeObject["metadata"];
  spec?: { replicas?: number };
  status?: { replicas: number; selector?: string };
}

/** A nested-optional view of T, for server-side apply configurations that name only the fields they own. */
export type DeepPartial<T> = T extends (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * Called after every successful write with what the apiserver returned (the cache uses it so that reads see the
 * operator's own writes). `object` is undefined when a delete removed the object at once.
 */
export type WriteListener = (
  type: ResourceType,
  write: { verb: "create" | "update" | "patch" | "delete"; key: ObjectKey; object: KubeObject | undefined },
) => void;

export interface ClientOptions extends TransportOptions {
  /** Default field manager for writes and server-side apply (e.g. the controller's name). */
  fieldManager?: string;
}

export type CreateOrUpdateResult = "created" | "updated" | "unchanged";

const metadataList = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const metadataObject = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** Accepts `{ namespace, name }`, `"namespace/name"` or `"name"`. */
export function objectKey(key: ObjectKey | string): ObjectKey {
  if (typeof key !== "string") return key;
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * A typed client for every verb, on built-in kinds and custom resources alike: the `ResourceType` says where a
 * kind lives, and its type parameter types the objects. Objects are plain JSON.
 */
export class Client {
  readonly transport: Transport;
  readonly fieldManager: string | undefined;
  private readonly writeListeners = new Set<WriteListener>();

  constructor(transport: Transport, options: { fieldManager?: string } = {}) {
    this.transport = transport;
    this.fieldManager = options.fieldManager;
  }

  /** Connects using a kubeconfig (default: `KUBECONFIG`, `~/.kube/config`, else in-cluster). */
  static async connect(options: LoadOptions & ClientOptions = {}): Promise<Client> {
    const config = await loadConnection(options);
    return new Client(
      new Transport(config, options),
      options.fieldManager ? { fieldManager: options.fieldManager } : {},
    );
  }

  /** Listens to every successful write made through this client; returns an unsubscribe function. */
  onWrite(listener: WriteListener): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  private wrote<T extends KubeObject>(type: ResourceType, object: T, verb: "create" | "update" | "patch"): T {
    if (this.writeListeners.size === 0) return object;
    const key = { namespace: object.metadata?.namespace, name: object.metadata?.name ?? "" };
    for (const l of this.writeListeners) l(type, { verb, key, object });
    return object;
  }

  /** The URL path of a kind, a namespace's collection, an object, or one of its subresources. */
  path(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    if (type.namespaced && name !== undefined && !namespace) {
      throw new Error(`${type.kind} is namespaced: a namespace is required to address "${name}"`);
    }
    let p = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${type.plural}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  private objectPath(type: ResourceType, obj: KubeObject, subresource?: string): string {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${type.kind}: metadata.name is required`);
    return this.path(type, obj.metadata?.namespace, name, subresource);
  }

  private writeQuery(opts: WriteOptions | undefined, force?: boolean): Query {
    return {
      dryRun: opts?.dryRun ? "All" : undefined,
      fieldManager: opts?.fieldManager ?? this.fieldManager,
      fieldValidation: opts?.fieldValidation,
      force: force ? true : undefined,
    };
  }

  private withTypeMeta<T extends KubeObject>(type: ResourceType<T>, obj: T): T {
    // The apiserver needs apiVersion and kind in write bodies; typed callers often leave them out.
    if (obj.apiVersion === type.apiVersion && obj.kind === type.kind) return obj;
    return { ...obj, apiVersion: type.apiVersion, kind: type.kind };
  }

  async get<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const k = objectKey(key);
    return this.transport.json<T>({ method: "GET", path: this.path(type, k.namespace, k.name), ...signal(opts) });
  }

  /** One page (or everything when `limit` is not set). */
  async list<T extends KubeObject>(type: ResourceType<T>, opts: ListOptions = {}): Promise<ListResult<T>> {
    return this.transport.json<ListResult<T>>({
      method: "GET",
      path: this.path(type, opts.namespace),
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
      },
      ...(opts.metadataOnly ? { accept: metadataList } : {}),
      ...signal(opts),
    });
  }

  /**
   * Yields the pages of a list of `pageSize` items (default 500, as controller-runtime and client-go do), so
   * that neither the apiserver nor this process builds one huge response.
   */
  async *listPages<T extends KubeObject>(
    type: ResourceType<T>,
    opts: ListOptions & { pageSize?: number } = {},
  ): AsyncGenerator<ListResult<T>> {
    let cont: string | undefined;
    do {
      const { pageSize, ...rest } = opts;
      const page = await this.list(type, { ...rest, limit: pageSize ?? 500, ...(cont ? { continue: cont } : {}) });
      yield page;
      cont = page.metadata.continue || undefined;
    } while (cont);
  }

  /** All items, fetched in pages; `metadata.resourceVersion` is the list's (a consistent snapshot). */
  async listAll<T extends KubeObject>(
    type: ResourceType<T>,
    opts: ListOptions & { pageSize?: number } = {},
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let metadata: ListResult<T>["metadata"] = {};
    let first = true;
    for await (const page of this.listPages(type, opts)) {
      if (first)
        metadata = { ...(page.metadata.resourceVersion ? { resourceVersion: page.metadata.resourceVersion } : {}) };
      first = false;
      for (const item of page.items) items.push(item);
    }
    return { metadata, items };
  }

  /** A watch as an async iterable; it ends when the server closes the stream or `signal` aborts. */
  watch<T extends KubeObject>(type: ResourceType<T>, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    return this.transport.lines<WatchEvent<T>>({
      path: this.path(type, opts.namespace),
      query: {
        watch: 1,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        resourceVersion: opts.resourceVersion,
        allowWatchBookmarks: opts.allowWatchBookmarks ? true : undefined,
        sendInitialEvents: opts.sendInitialEvents ? true : undefined,
        resourceVersionMatch: opts.resourceVersionMatch,
        timeoutSeconds: opts.timeoutSeconds,
      },
      ...(opts.metadataOnly ? { accept: metadataObject } : {}),
      ...signal(opts),
    });
  }

  async create<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T> {
    const namespace = obj.metadata?.namespace;
    if (type.namespaced && !namespace) throw new Error(`${type.kind} is namespaced: metadata.namespace is required`);
    const created = await this.transport.json<T>({
      method: "POST",
      path: this.path(type, namespace),
      query: this.writeQuery(opts),
      body: this.withTypeMeta(type, obj),
      ...signal(opts),
    });
    return opts?.dryRun ? created : this.wrote(type, created, "create");
  }

  /** Replaces the object; fails with ConflictError when `metadata.resourceVersion` is stale. */
  async update<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T> {
    const updated = await this.transport.json<T>({
      method: "PUT",
      path: this.objectPath(type, obj),
      query: this.writeQuery(opts),
      body: this.withTypeMeta(type, obj),
      ...signal(opts),
    });
    return opts?.dryRun ? updated : this.wrote(type, updated, "update");
  }

  /** Replaces the status subresource (the rest of the object is ignored by the server). */
  async updateStatus<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T> {
    const updated = await this.transport.json<T>({
      method: "PUT",
      path: this.objectPath(type, obj, "status"),
      query: this.writeQuery(opts),
      body: this.withTypeMeta(type, obj),
      ...signal(opts),
    });
    return opts?.dryRun ? updated : this.wrote(type, updated, "update");
  }

  async patch<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    patchType: PatchType,
    patch: unknown,
    opts?: WriteOptions & { subresource?: "status" | "scale" },
  ): Promise<T> {
    const k = objectKey(key);
    const patched = await this.transport.json<T>({
      method: "PATCH",
      path: this.path(type, k.namespace, k.name, opts?.subresource),
      query: this.writeQuery(opts),
      body: patch,
      contentType: patchContentTypes[patchType],
      ...signal(opts),
    });
    return opts?.dryRun || opts?.subresource === "scale" ? patched : this.wrote(type, patched, "patch");
  }

  /**
   * Server-side apply: sends the fields this manager wants to own and lets the apiserver merge them. Requires a
   * field manager (from the options or the client); `force` takes over fields another manager owns.
   */
  async apply<T extends KubeObject>(
    type: ResourceType<T>,
    obj: DeepPartial<T> & KubeObject,
    opts: ApplyOptions & { subresource?: "status" } = {},
  ): Promise<T> {
    const fieldManager = opts.fieldManager ?? this.fieldManager;
    if (!fieldManager) throw new Error("server-side apply needs a fieldManager (in the options or the client's)");
    const body = { ...obj, apiVersion: type.apiVersion, kind: type.kind };
    const applied = await this.transport.json<T>({
      method: "PATCH",
      path: this.objectPath(type, obj, opts.subresource),
      query: this.writeQuery({ ...opts, fieldManager }, opts.force),
      // JSON is YAML, and the apiserver's apply decoder accepts it as such.
      body: JSON.stringify(body),
      contentType: patchContentTypes.apply,
      ...signal(opts),
    });
    return opts.dryRun ? applied : this.wrote(type, applied, "patch");
  }

  /** Server-side apply of the status subresource. */
  applyStatus<T extends KubeObject>(
    type: ResourceType<T>,
    obj: DeepPartial<T> & KubeObject,
    opts: ApplyOptions = {},
  ): Promise<T> {
    return this.apply(type, obj, { ...opts, subresource: "status" });
  }

  /**
   * Deletes an object. Resolves with the object when it still exists (finalizers or foreground deletion keep it,
   * with `deletionTimestamp` set), or with the apiserver's Status when it is gone.
   */
  async delete<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    opts: DeleteOptions = {},
  ): Promise<T | StatusBody> {
    const k = objectKey(key);
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.dryRun) body.dryRun = ["All"];
    const result = await this.transport.json<T | StatusBody>({
      method: "DELETE",
      path: this.path(type, k.namespace, k.name),
      body,
      ...signal(opts),
    });
    if (!opts.dryRun) {
      const object = (result as StatusBody).kind === "Status" ? undefined : (result as T);
      for (const l of this.writeListeners) l(type, { verb: "delete", key: k, object });
    }
    return result;
  }

  async getScale(type: ResourceType, key: ObjectKey | string): Promise<Scale> {
    const k = objectKey(key);
    return this.transport.json<Scale>({ method: "GET", path: this.path(type, k.namespace, k.name, "scale") });
  }

  async updateScale(
    type: ResourceType,
    key: ObjectKey | string,
    replicas: number,
    opts?: WriteOptions,
  ): Promise<Scale> {
    return this.patch(type, key, "merge", { spec: { replicas } }, { ...opts, subresource: "scale" }) as Promise<Scale>;
  }

  /**
   * Reads the object, lets `mutate` change it, and writes only if something changed: creates it when missing
   * (mutating a skeleton with apiVersion, kind, name and namespace), updates it otherwise, retrying conflicts
   * with a fresh read.
   */
  async createOrUpdate<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    mutate: (obj: T) => void | Promise<void>,
    opts?: WriteOptions,
  ): Promise<{ result: CreateOrUpdateResult; object: T }> {
    const k = objectKey(key);
    return retryOnConflict(async () => {
      const current = await this.getOrUndefined(type, k);
      if (!current) {
        const obj = skeleton(type, k);
        await mutate(obj);
        assertSameKey(type, k, obj);
        return { result: "created" as const, object: await this.create(type, obj, opts) };
      }
      const desired = structuredClone(current);
      await mutate(desired);
      assertSameKey(type, k, desired);
      if (deepEqual(current, desired)) return { result: "unchanged" as const, object: current };
      return { result: "updated" as const, object: await this.update(type, desired, opts) };
    });
  }

  /**
   * Like createOrUpdate, but sends a JSON merge patch of what `mutate` changed instead of the whole object (and
   * the status through the status subresource when the kind has one), so it never overwrites fields it did not
   * touch and needs no resourceVersion.
   */
  async createOrPatch<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    mutate: (obj: T) => void | Promise<void>,
    opts?: WriteOptions,
  ): Promise<{ result: CreateOrUpdateResult; object: T }> {
    const k = objectKey(key);
    return retryOnConflict(async () => {
      const current = await this.getOrUndefined(type, k);
      if (!current) {
        const obj = skeleton(type, k);
        await mutate(obj);
        assertSameKey(type, k, obj);
        return { result: "created" as const, object: await this.create(type, obj, opts) };
      }
      const desired = structuredClone(current);
      await mutate(desired);
      assertSameKey(type, k, desired);
      const { status: beforeStatus, ...beforeRest } = current as T & { status?: unknown };
      const { status: afterStatus, ...afterRest } = desired as T & { status?: unknown };
      const splitStatus = type.subresources.status;
      const mainPatch = splitStatus ? mergePatch(beforeRest, afterRest) : mergePatch(current, desired);
      const statusPatch = splitStatus ? mergePatch({ status: beforeStatus }, { status: afterStatus }) : undefined;
      if (!mainPatch && !statusPatch) return { result: "unchanged" as const, object: current };
      let object = current;
      if (mainPatch) object = await this.patch(type, k, "merge", mainPatch, opts);
      if (statusPatch) object = await this.patch(type, k, "merge", statusPatch, { ...opts, subresource: "status" });
      return { result: "updated" as const, object };
    });
  }

  private async getOrUndefined<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey): Promise<T | undefined> {
    try {
      return await this.get(type, key);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

function signal(opts: { signal?: AbortSignal } | undefined): { signal?: AbortSignal } {
  return opts?.signal ? { signal: opts.signal } : {};
}

function skeleton<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey): T {
  return {
    apiVersion: type.apiVersion,
    kind: type.kind,
    metadata: { name: key.name, ...(type.namespaced && key.namespace ? { namespace: key.namespace } : {}) },
  } as T;
}

function assertSameKey(type: ResourceType, key: ObjectKey, obj: KubeObject): void {
  if (obj.metadata?.name !== key.name || (type.namespaced && obj.metadata?.namespace !== key.namespace)) {
    throw new Error(
      `${type.kind} ${key.namespace ? `${key.namespace}/` : ""}${key.name}: mutate must not change the name or namespace`,
    );
  }
}

export interface RetryOptions {
  /** Attempts in all (default 5). */
  attempts?: number;
  /** First delay; doubles each retry, with jitter (default 10 ms). */
  baseDelayMs?: number;
}

/**
 * Runs `fn` again while it fails with a 409 Conflict (someone else wrote first), like client-go's
 * RetryOnConflict. `fn` must re-read what it writes, or the retry fails the same way.
 */
export async function retryOnConflict<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  let delay = opts.baseDelayMs ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConflict(err) || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      delay *= 2;
    }
  }
}
