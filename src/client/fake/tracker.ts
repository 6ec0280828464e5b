/**
 * The fake's store, as the apiserver and etcd keep objects: one resourceVersion counter for every kind, system
 * metadata the writer cannot change, `generation` bumped on spec changes, finalizers that hold a deleted object,
 * the garbage collector (Background, Foreground and Orphan propagation), and label and field selectors. Every
 * change is handed to `onChange` (the watches) as it is stored.
 */
import { randomUUID } from "node:crypto";
import type { ObjectMeta, OwnerReference } from "../../types/generated/meta.v1.ts";
import type { KubeObject, ResourceType } from "../../types/resource.ts";
import { deepEqual } from "../patch.ts";
import { type FieldMatcher, type LabelMatcher, parseFieldSelector, parseLabelSelector } from "../selector.ts";
import { alreadyExists, badRequest, cause, conflict, invalidError, preconditionFailed } from "./errors.ts";
import { clone, keyFor, type Obj } from "./objects.ts";

export type ObjMatcher = (obj: Obj) => boolean;

export type PropagationPolicy = "Foreground" | "Background" | "Orphan";

/** One stored change, as watches see it. */
export interface StoreEvent {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** The stored state after the event (for DELETED, the last state with the deletion's resourceVersion). */
  object: Obj;
  prev: Obj | undefined;
}

/** An object's address as the verbs check it: no namespace for cluster-scoped kinds. */
export interface Address {
  namespace: string | undefined;
  name: string;
}

export interface TrackerOptions {
  /** Clock for creationTimestamp and deletionTimestamp. */
  now: () => Date;
  /** Told of every change as it is stored, in resourceVersion order. */
  onChange: (type: ResourceType, event: StoreEvent) => void;
}

interface Bucket {
  type: ResourceType;
  objects: Map<string, Obj>;
}

const nameChars = "bcdfghjklmnpqrstvwxz2456789";

export class ObjectTracker {
  private readonly buckets = new Map<string, Bucket>();
  private readonly uids = new Set<string>();
  /** etcd's revision of an empty store is 1; every write takes the next one. */
  private rv = 1;
  private readonly clock: () => Date;
  private readonly onChange: TrackerOptions["onChange"];
  private settling = false;
  private settleAgain = false;

  constructor(options: TrackerOptions) {
    this.clock = options.now;
    this.onChange = options.onChange;
  }

  /** The newest resourceVersion. */
  get revision(): number {
    return this.rv;
  }

  /** The stored object itself (not a copy: copy it before handing it out), or undefined. */
  get(type: ResourceType, k: Address): Obj | undefined {
    return this.bucket(type).objects.get(keyFor(k.namespace, k.name));
  }

  /** The stored objects of a kind with their keys, in etcd's order (namespace/name, byte order). */
  sorted(type: ResourceType): Array<[string, Obj]> {
    return [...this.bucket(type).objects].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** A deep copy with apiVersion, kind and a metadata object. */
  typed(type: ResourceType, input: KubeObject): Obj {
    const obj = clone(input) as Obj;
    const { apiVersion: _a, kind: _k, ...rest } = obj;
    return { apiVersion: type.apiVersion, kind: type.kind, ...rest, metadata: obj.metadata ?? {} };
  }

  /** Stores an object as it is (see FakeClient.seed), creating or replacing it; returns the stored copy. */
  seed(type: ResourceType, input: KubeObject): Obj {
    const obj = this.typed(type, input);
    const m = obj.metadata;
    if (!m.name) throw new Error(`seed ${type.kind}: metadata.name is required`);
    if (type.namespaced && !m.namespace) throw new Error(`seed ${type.kind} ${m.name}: metadata.namespace is required`);
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
    return this.commit(bucket, key, obj);
  }

  /** Creates an object as the apiserver does (system metadata set, status dropped); returns the stored copy. */
  create(type: ResourceType, input: KubeObject, request: string, dryRun: boolean | undefined): Obj {
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

  /**
   * The shared path of update, patch and apply on an existing object: the name and namespace must be the
   * request's, a uid or resourceVersion in `incoming` are preconditions. Stores what the apiserver would for a
   * write of `incoming` over `stored` (the main resource, or with `status` the status subresource); returns the
   * stored copy, or with `dryRun` what would be stored.
   */
  modify(
    type: ResourceType,
    k: Address,
    stored: Obj,
    incoming: Obj,
    status: boolean,
    opts: { dryRun?: boolean },
    request: string,
  ): Obj {
    const key = keyFor(k.namespace, k.name);
    const m = incoming.metadata ?? {};
    const otherNamespace = type.namespaced && m.namespace && m.namespace !== stored.metadata.namespace;
    if ((m.name && m.name !== stored.metadata.name) || otherNamespace) {
      throw badRequest(
        `the name or namespace of the object (${keyFor(m.namespace, m.name ?? "")}) does not match the request (${key})`,
        request,
      );
    }
    this.checkPreconditions(type, stored, m, request);
    const next = this.prepare(type, stored, incoming, status, request);
    return this.writeIfChanged(this.bucket(type), key, stored, next, opts);
  }

  /** A uid or resourceVersion in `m` must be the stored object's (else 409 Conflict). */
  checkPreconditions(type: ResourceType, stored: Obj, m: ObjectMeta, request: string): void {
    const name = stored.metadata.name as string;
    if (m.uid && m.uid !== stored.metadata.uid) {
      throw preconditionFailed(type, name, "UID", m.uid, stored.metadata.uid, request);
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
   * Deletes a stored object with a propagation policy: removed at once (then its garbage collected) when nothing
   * holds it, else marked with a deletionTimestamp and returned (a copy). Undefined when it is gone.
   */
  delete(type: ResourceType, k: Address, policy: PropagationPolicy): Obj | undefined {
    return this.deleteObject(this.bucket(type), keyFor(k.namespace, k.name), policy);
  }

  /** What a delete would leave, without storing it: undefined when the object would be removed at once. */
  deleteDryRun(stored: Obj, policy: PropagationPolicy): Obj | undefined {
    if (stored.metadata.deletionTimestamp) return clone(stored);
    const finalizers = withPolicyFinalizer(stored.metadata.finalizers ?? [], policy);
    if (finalizers.length === 0) return undefined;
    return this.markDeleting(clone(stored), finalizers);
  }

  // ---------------------------------------------------------------------------------------------- internals

  private bucket(type: ResourceType): Bucket {
    const id = `${type.apiVersion}/${type.kind}`;
    let b = this.buckets.get(id);
    if (!b) {
      b = { type, objects: new Map() };
      this.buckets.set(id, b);
    }
    return b;
  }

  private timestamp(): string {
    return this.clock()
      .toISOString()
      .replace(/\.\d+Z$/, "Z");
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
  private writeIfChanged(bucket: Bucket, key: string, stored: Obj, next: Obj, opts: { dryRun?: boolean }): Obj {
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
    this.onChange(bucket.type, { rv, type: prev ? "MODIFIED" : "ADDED", object: obj, prev });
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
    this.onChange(bucket.type, { rv, type: "DELETED", object: last, prev });
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

  private deleteObject(bucket: Bucket, key: string, policy: PropagationPolicy): Obj | undefined {
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
    this.writeIfChanged(bucket, key, stored, next, {});
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
}

/** Label and field selectors (and a namespace) as a test of stored objects; a bad selector is a 400. */
export function matcher(
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

function withPolicyFinalizer(finalizers: string[], policy: PropagationPolicy): string[] {
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
