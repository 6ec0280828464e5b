import type { KubeObject, ResourceType } from "../types/resource.ts";
// The verbs' vocabulary, qualified: this class implements what api.ts declares on ClientBase.
import type * as api from "./api.ts";
import { ClientBase, objectKey } from "./api.ts";
import { type LoadOptions, loadConnection } from "./config.ts";
import type { StatusBody } from "./errors.ts";
import { resourcePath } from "./paths.ts";
import { type Query, type RequestSpec, Transport, type TransportOptions } from "./transport.ts";

export interface ClientOptions extends TransportOptions {
  /** Default field manager for writes and server-side apply (e.g. the controller's name). */
  fieldManager?: string;
}

const patchContentTypes: Record<api.PatchType | "apply", string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

const metadataList = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const metadataObject = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/**
 * A typed client for every verb, on built-in kinds and custom resources alike: the `ResourceType` says where a
 * kind lives, and its type parameter types the objects. Objects are plain JSON.
 */
export class Client extends ClientBase {
  readonly transport: Transport;

  constructor(transport: Transport, options: { fieldManager?: string } = {}) {
    super(options.fieldManager);
    this.transport = transport;
  }

  /** Connects using a kubeconfig (default: `KUBECONFIG`, `~/.kube/config`, else in-cluster). */
  static async connect(options: LoadOptions & ClientOptions = {}): Promise<Client> {
    const config = await loadConnection(options);
    return new Client(
      new Transport(config, options),
      options.fieldManager ? { fieldManager: options.fieldManager } : {},
    );
  }

  /** The URL path of a kind, a namespace's collection, an object, or one of its subresources. */
  path(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    if (type.namespaced && name !== undefined && !namespace) {
      throw new Error(`${type.kind} is namespaced: a namespace is required to address "${name}"`);
    }
    return resourcePath(type, namespace, name, subresource);
  }

  private objectPath(type: ResourceType, obj: KubeObject, subresource?: string): string {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${type.kind}: metadata.name is required`);
    return this.path(type, obj.metadata?.namespace, name, subresource);
  }

  private writeQuery(opts: api.WriteOptions | undefined, force?: boolean): Query {
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
    key: api.ObjectKey | string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const k = objectKey(key);
    return this.transport.json<T>({ method: "GET", path: this.path(type, k.namespace, k.name), ...signal(opts) });
  }

  /** One page (or everything when `limit` is not set). */
  async list<T extends KubeObject>(type: ResourceType<T>, opts: api.ListOptions = {}): Promise<api.ListResult<T>> {
    const list = await this.transport.json<api.ListResult<T>>({
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
    // An empty PartialObjectMetadataList comes with `items: null`.
    list.items ??= [];
    return list;
  }

  /** A watch as an async iterable; it ends when the server closes the stream or `signal` aborts. */
  watch<T extends KubeObject>(type: ResourceType<T>, opts: api.WatchOptions = {}): AsyncGenerator<api.WatchEvent<T>> {
    return this.transport.lines<api.WatchEvent<T>>({
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

  async create<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: api.WriteOptions): Promise<T> {
    const namespace = obj.metadata?.namespace;
    if (type.namespaced && !namespace) throw new Error(`${type.kind} is namespaced: metadata.namespace is required`);
    const key = { namespace, name: obj.metadata?.name ?? obj.metadata?.generateName ?? "" };
    const created = await this.send<T>(type, key, opts?.signal, () => ({
      method: "POST",
      path: this.path(type, namespace),
      query: this.writeQuery(opts),
      body: this.withTypeMeta(type, obj),
    }));
    return opts?.dryRun ? created : this.wrote(type, created, "create");
  }

  /** Replaces the object; fails with ConflictError when `metadata.resourceVersion` is stale. */
  update<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: api.WriteOptions): Promise<T> {
    return this.put(type, obj, opts);
  }

  /** Replaces the status subresource (the rest of the object is ignored by the server). */
  updateStatus<T extends KubeObject>(type: ResourceType<T>, obj: T, opts?: api.WriteOptions): Promise<T> {
    return this.put(type, obj, opts, "status");
  }

  private async put<T extends KubeObject>(
    type: ResourceType<T>,
    obj: T,
    opts: api.WriteOptions | undefined,
    subresource?: "status",
  ): Promise<T> {
    const updated = await this.send<T>(type, keyOf(obj), opts?.signal, () => ({
      method: "PUT",
      path: this.objectPath(type, obj, subresource),
      query: this.writeQuery(opts),
      body: this.withTypeMeta(type, obj),
    }));
    return opts?.dryRun ? updated : this.wrote(type, updated, "update");
  }

  async patch<T extends KubeObject>(
    type: ResourceType<T>,
    key: api.ObjectKey | string,
    patchType: api.PatchType,
    patch: unknown,
    opts?: api.WriteOptions & { subresource?: "status" | "scale" },
  ): Promise<T> {
    const k = objectKey(key);
    const patched = await this.send<T>(type, k, opts?.signal, () => ({
      method: "PATCH",
      path: this.path(type, k.namespace, k.name, opts?.subresource),
      query: this.writeQuery(opts),
      body: patch,
      contentType: patchContentTypes[patchType],
    }));
    return opts?.dryRun || opts?.subresource === "scale" ? patched : this.wrote(type, patched, "patch");
  }

  /**
   * Server-side apply: sends the fields this manager wants to own and lets the apiserver merge them. Requires a
   * field manager (from the options or the client); `force` takes over fields another manager owns.
   */
  async apply<T extends KubeObject>(
    type: ResourceType<T>,
    obj: api.DeepPartial<T> & KubeObject,
    opts: api.ApplyOptions & { subresource?: "status" } = {},
  ): Promise<T> {
    const fieldManager = this.applyFieldManager(opts);
    const body = { ...obj, apiVersion: type.apiVersion, kind: type.kind };
    const applied = await this.send<T>(type, keyOf(obj), opts.signal, () => ({
      method: "PATCH",
      path: this.objectPath(type, obj, opts.subresource),
      query: this.writeQuery({ ...opts, fieldManager }, opts.force),
      // JSON is YAML, and the apiserver's apply decoder accepts it as such.
      body: JSON.stringify(body),
      contentType: patchContentTypes.apply,
    }));
    return opts.dryRun ? applied : this.wrote(type, applied, "patch");
  }

  /**
   * Deletes an object. Resolves with the object when it still exists (finalizers or foreground deletion keep it,
   * with `deletionTimestamp` set), or with the apiserver's Status when it is gone.
   */
  async delete<T extends KubeObject>(
    type: ResourceType<T>,
    key: api.ObjectKey | string,
    opts: api.DeleteOptions = {},
  ): Promise<T | StatusBody> {
    const k = objectKey(key);
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.dryRun) body.dryRun = ["All"];
    const result = await this.send<T | StatusBody>(type, k, opts.signal, () => ({
      method: "DELETE",
      path: this.path(type, k.namespace, k.name),
      body,
    }));
    if (!opts.dryRun) this.deleted(type, k, (result as StatusBody).kind === "Status" ? undefined : (result as T));
    return result;
  }

  async getScale(type: ResourceType, key: api.ObjectKey | string): Promise<api.Scale> {
    const k = objectKey(key);
    return this.transport.json<api.Scale>({ method: "GET", path: this.path(type, k.namespace, k.name, "scale") });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Sends a write through the fence; the request is built only once the fence has let the write through. */
  private send<R>(
    type: ResourceType,
    key: api.ObjectKey,
    callerSignal: AbortSignal | undefined,
    request: () => Omit<RequestSpec, "signal">,
  ): Promise<R> {
    return this.fenced(type, key, callerSignal, (s) =>
      this.transport.json<R>({ ...request(), ...signal({ signal: s }) }),
    );
  }
}

function signal(opts: { signal?: AbortSignal | undefined } | undefined): { signal?: AbortSignal } {
  return opts?.signal ? { signal: opts.signal } : {};
}

function keyOf(obj: KubeObject): api.ObjectKey {
  return { namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? "" };
}
