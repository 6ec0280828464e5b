import type { KubeObject } from "../types/resource.ts";

/**
 * One copy of the strings that repeat across the objects of a cache. JSON.parse gives every decoded object its own
 * copy of each string value, so 10,000 cached objects (and every watch event that replaces one) carry 10,000 copies
 * of their namespace, apiVersion and of the owner's apiVersion in each ownerReference, and timestamps of objects made
 * in the same second. Measured on the benchmark operator's cold start (10,000 Benches and their ConfigMaps): some
 * 2 MB of its 30 MB live heap were such copies.
 *
 * Only fields whose values are few or come in runs are shared; names, uids and resourceVersions are unique and
 * would only fill the pool. The pool is emptied when it reaches its bound, so a cache of objects from many
 * namespaces or spread over many seconds costs at most that many entries.
 */
export class SharedStrings {
  private readonly pool = new Map<string, string>();
  private readonly max: number;

  constructor(max = 4096) {
    this.max = max;
  }

  /** The pooled copy of `value` (the first one seen, or `value` itself, now pooled). */
  share(value: string): string {
    const pooled = this.pool.get(value);
    if (pooled !== undefined) return pooled;
    if (this.pool.size >= this.max) this.pool.clear();
    this.pool.set(value, value);
    return value;
  }

  /**
   * Replaces, in place, the repeating strings of an object that was just decoded and belongs to the cache:
   * apiVersion, kind, metadata.namespace and creationTimestamp, and each ownerReference's apiVersion and kind.
   */
  shareIn<T extends KubeObject>(obj: T): T {
    if (obj.apiVersion !== undefined) obj.apiVersion = this.share(obj.apiVersion);
    if (obj.kind !== undefined) obj.kind = this.share(obj.kind);
    const metadata = obj.metadata;
    if (!metadata) return obj;
    if (metadata.namespace !== undefined) metadata.namespace = this.share(metadata.namespace);
    if (metadata.creationTimestamp !== undefined) {
      metadata.creationTimestamp = this.share(metadata.creationTimestamp);
    }
    for (const owner of metadata.ownerReferences ?? []) {
      owner.apiVersion = this.share(owner.apiVersion);
      owner.kind = this.share(owner.kind);
    }
    return obj;
  }

  get size(): number {
    return this.pool.size;
  }
}
