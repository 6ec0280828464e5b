import type { KubeObject, ResourceType } from "../types/resource.ts";
import { isConflict, isNotFound, type StatusBody } from "./errors.ts";
import { type WriteFence, type WriteKind, WritesInFlight } from "./fence.ts";
import { deepEqual, mergePatch } from "./patch.ts";

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

export type CreateOrUpdateResult = "created" | "updated" | "unchanged";

/** Accepts `{ namespace, name }`, `"namespace/name"` or `"name"`. */
export function objectKey(key: ObjectKey | string): ObjectKey {
  if (typeof key !== "string") return key;
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** What KubeClient is made of: every public member of ClientBase but the write fence. */
type KubeClientMember =
  | "fieldManager"
  | "get"
  | "list"
  | "listPages"
  | "listAll"
  | "watch"
  | "create"
  | "update"
  | "updateStatus"
  | "patch"
  | "apply"
  | "applyStatus"
  | "delete"
  | "getScale"
  | "updateScale"
  | "createOrUpdate"
  | "createOrPatch"
  | "onWrite"
  | "close";

/**
 * Every verb of the client, on any kind: what reconciles, caches and tests depend on. `Client` speaks HTTP to an
 * apiserver; `FakeClient` keeps objects in memory for fast unit tests. The signatures are declared once, on
 * ClientBase (abstract there where each implementation has its own), so that the compiler still checks that an
 * implementation has every verb.
 */
export interface KubeClient extends Pick<ClientBase, KubeClientMember> {}

/**
 * The verbs that are built from others (paging, apply of status, create-or-update, write notifications),
 * shared by every KubeClient implementation, and the declarations of those each implementation has.
 */
export abstract class ClientBase {
  /** Default field manager of writes (and required by server-side apply). */
  readonly fieldManager: string | undefined;
  private readonly writeListeners = new Set<WriteListener>();
  private fence: WriteFence | undefined;
  private readonly inFlight = new WritesInFlight();

  constructor(fieldManager?: string) {
    this.fieldManager = fieldManager;
  }

  abstract get<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    opts?: { signal?: AbortSignal },
  ): Promise<T>;
  abstract list<T extends KubeObject>(type: ResourceType<T>, opts?: ListOptions): Promise<ListResult<T>>;
  abstract watch<T extends KubeObject>(type: ResourceType<T>, opts?: WatchOptions): AsyncGenerator<WatchEvent<T>>;
  abstract create<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T>;
  abstract update<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T>;
  abstract updateStatus<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T>;
  abstract patch<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    patchType: PatchType,
    patch: unknown,
    opts?: WriteOptions & { subresource?: "status" | "scale" },
  ): Promise<T>;
  abstract apply<T extends KubeObject>(
    type: ResourceType<T>,
    obj: DeepPartial<T> & KubeObject,
    opts?: ApplyOptions & { subresource?: "status" },
  ): Promise<T>;
  abstract delete<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    opts?: DeleteOptions,
  ): Promise<T | StatusBody>;
  abstract getScale(type: ResourceType, key: ObjectKey | string): Promise<Scale>;
  abstract close(): Promise<void>;

  /** Listens to every successful write made through this client; returns an unsubscribe function. */
  onWrite(listener: WriteListener): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  /**
   * Installs (or, with undefined, removes) a fence that every write must pass before it is sent: a manager that
   * elects a leader installs one when it starts leading.
   */
  setWriteFence(fence: WriteFence | undefined): void {
    this.fence = fence;
  }

  /** Fenced writes sent and not yet answered. */
  get writesInFlight(): number {
    return this.inFlight.size;
  }

  /** Resolves true once no fenced write is in flight, false after `timeoutMs`. */
  writesSettled(timeoutMs: number): Promise<boolean> {
    return this.inFlight.settled(timeoutMs);
  }

  /**
   * Implementations send every write through this: the fence may refuse it before it is sent, and its signal
   * (the caller's, combined with the fence's) cancels it when the fence closes.
   */
  protected fenced<R>(
    type: ResourceType,
    key: ObjectKey,
    signal: AbortSignal | undefined,
    send: (signal: AbortSignal | undefined) => Promise<R>,
  ): Promise<R> {
    return this.inFlight.run(this.fence, type, key, signal, send);
  }

  /** For implementations whose writes cannot be in flight (in memory): throws when the fence refuses a write. */
  protected admitWrite(type: WriteKind, key: ObjectKey): void {
    this.fence?.admit(type, key);
  }

  /** The field manager of a server-side apply: the options', else the client's; apply cannot do without one. */
  protected applyFieldManager(opts: ApplyOptions): string {
    const fieldManager = opts.fieldManager ?? this.fieldManager;
    if (!fieldManager) throw new Error("server-side apply needs a fieldManager (in the options or the client's)");
    return fieldManager;
  }

  /** Implementations call this after a successful create, update or patch. */
  protected wrote<T extends KubeObject>(type: ResourceType, object: T, verb: "create" | "update" | "patch"): T {
    if (this.writeListeners.size === 0) return object;
    const key = { namespace: object.metadata?.namespace, name: object.metadata?.name ?? "" };
    for (const l of this.writeListeners) l(type, { verb, key, object });
    return object;
  }

  /** Implementations call this after a successful delete (`object` undefined when it is gone at once). */
  protected deleted(type: ResourceType, key: ObjectKey, object: KubeObject | undefined): void {
    for (const l of this.writeListeners) l(type, { verb: "delete", key, object });
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

  /** Server-side apply of the status subresource. */
  applyStatus<T extends KubeObject>(
    type: ResourceType<T>,
    obj: DeepPartial<T> & KubeObject,
    opts: ApplyOptions = {},
  ): Promise<T> {
    return this.apply(type, obj, { ...opts, subresource: "status" });
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
    return this.mutateOrCreate(type, key, mutate, opts, async (current, desired) => {
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
    return this.mutateOrCreate(type, k, mutate, opts, async (current, desired) => {
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

  /**
   * The shared first half of createOrUpdate and createOrPatch: read the object, create it from a mutated skeleton
   * when it is missing, otherwise hand the current object and a mutated copy to `write`; conflicts start over
   * with a fresh read.
   */
  private mutateOrCreate<T extends KubeObject>(
    type: ResourceType<T>,
    key: ObjectKey | string,
    mutate: (obj: T) => void | Promise<void>,
    opts: WriteOptions | undefined,
    write: (current: T, desired: T) => Promise<{ result: CreateOrUpdateResult; object: T }>,
  ): Promise<{ result: CreateOrUpdateResult; object: T }> {
    const k = objectKey(key);
    return retryOnConflict(async () => {
      const current = await this.getOrUndefined(type, k);
      const desired = current ? structuredClone(current) : skeleton(type, k);
      await mutate(desired);
      assertSameKey(type, k, desired);
      if (!current) return { result: "created" as const, object: await this.create(type, desired, opts) };
      return write(current, desired);
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
