import type { KubeObject } from "../types/resource.ts";

/** `namespace/name`, or `name` for cluster-scoped objects: the key of the store and of the work queue. */
export function keyOf(obj: KubeObject): string {
  const m = obj.metadata;
  if (!m?.name) throw new Error("object without metadata.name");
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}

/** Returns the values an object is indexed under (none to leave it out of the index). */
export type IndexFunc<T extends KubeObject = KubeObject> = (obj: T) => readonly string[];

/** Index of every owner's uid: the children of an object, without listing the whole cache. */
export const byOwnerUid: IndexFunc = (obj) => (obj.metadata?.ownerReferences ?? []).map((o) => o.uid);
/** Index of the controller owner's uid only (the owner that reconciles the object). */
export const byControllerUid: IndexFunc = (obj) =>
  (obj.metadata?.ownerReferences ?? []).filter((o) => o.controller).map((o) => o.uid);
/** Index by namespace. */
export const byNamespace: IndexFunc = (obj) => (obj.metadata?.namespace ? [obj.metadata.namespace] : []);

/**
 * An in-memory map of objects with secondary indexes. Lookups by key are O(1), and by index value O(matches):
 * an index maps each value to the set of keys that have it.
 */
export class Store<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  /** Indexes made on first use: most operators never ask for most built-in ones, which cost memory per object. */
  private readonly lazy = new Map<string, IndexFunc<T>>();

  get size(): number {
    return this.items.size;
  }

  /** Adds an index; existing objects are indexed at once. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`index "${name}" already exists`);
    this.indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indexes.set(name, index);
    for (const [key, obj] of this.items) addTo(index, fn(obj), key);
  }

  /** Adds an index that is built the first time it is used. */
  addLazyIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name) || this.lazy.has(name)) throw new Error(`index "${name}" already exists`);
    this.lazy.set(name, fn);
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name) || this.lazy.has(name);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  /** Inserts or replaces; returns the previous object. */
  set(key: string, obj: T): T | undefined {
    const old = this.items.get(key);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) {
      const index = this.indexes.get(name) as Map<string, Set<string>>;
      const values = fn(obj);
      if (old) {
        // An update rarely moves an object in an index (same namespace, same owners): nothing to do then.
        const before = fn(old);
        if (sameValues(before, values)) continue;
        removeFrom(index, before, key);
      }
      addTo(index, values, key);
    }
    return old;
  }

  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.items.delete(key);
    for (const [name, fn] of this.indexers)
      removeFrom(this.indexes.get(name) as Map<string, Set<string>>, fn(old), key);
    return old;
  }

  /** The values `obj` is indexed under in index `name` (custom indexes included), e.g. to filter by an index. */
  indexValues(name: string, obj: T): readonly string[] {
    return (this.indexers.get(name) ?? this.lazy.get(name))?.(obj) ?? [];
  }

  /** Objects whose index `name` includes `value`. */
  byIndex(name: string, value: string): T[] {
    const lazy = this.lazy.get(name);
    if (lazy) {
      this.lazy.delete(name);
      this.addIndex(name, lazy);
    }
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no index "${name}"; add it before the informer starts`);
    const keys = index.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.items.get(k);
      if (obj) out.push(obj);
    }
    return out;
  }
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function addTo(index: Map<string, Set<string>>, values: readonly string[], key: string): void {
  for (const v of values) {
    let keys = index.get(v);
    if (!keys) {
      keys = new Set();
      index.set(v, keys);
    }
    keys.add(key);
  }
}

function removeFrom(index: Map<string, Set<string>>, values: readonly string[], key: string): void {
  for (const v of values) {
    const keys = index.get(v);
    if (!keys) continue;
    keys.delete(key);
    if (keys.size === 0) index.delete(v);
  }
}
