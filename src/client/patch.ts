/**
 * Patches over plain JSON values, both ways: computing the patch that turns one value into another (to decide
 * whether a write is needed and what to send, or what a mutating webhook answers), and applying a patch (as the
 * apiserver does, for the fake client and for tests).
 *
 * - JSON merge patch (RFC 7386): `mergePatch` computes one, `applyMergePatch` applies one;
 * - JSON Patch (RFC 6902): `jsonPatch` computes one, `applyJsonPatch` applies one.
 *
 * Hand-written because they are small, and computed patches must be minimal and deterministic.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON object (not an array, not null). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values; `undefined` properties count as absent, as they do once serialised. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    const ak = Object.keys(a).filter((k) => a[k] !== undefined);
    const bk = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ak.length !== bk.length) return false;
    for (const k of ak) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

// ------------------------------------------------------------------------------------------------ merge patches

/**
 * The JSON merge patch (RFC 7386) that turns `before` into `after`: changed and new fields with their new value,
 * removed fields as null, arrays replaced whole. Undefined when nothing differs.
 */
export function mergePatch(before: unknown, after: unknown): Record<string, unknown> | undefined {
  if (!isJsonObject(before) || !isJsonObject(after)) {
    throw new TypeError("a merge patch is computed between two objects");
  }
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(before)) {
    if (before[key] !== undefined && (after[key] === undefined || !(key in after))) patch[key] = null;
  }
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const old = before[key];
    if (deepEqual(old, value)) continue;
    if (isJsonObject(old) && isJsonObject(value)) {
      const nested = mergePatch(old, value);
      if (nested) patch[key] = nested;
    } else {
      patch[key] = value;
    }
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * Applies a JSON merge patch (RFC 7386): objects merge recursively, null removes a field, anything else (arrays
 * included) replaces. `target` is not changed; the result shares with it the parts the patch does not touch.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isJsonObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ JSON patches

/** The operations `jsonPatch` computes. */
export type PatchOperation =
  | { op: "add"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "replace"; path: string; value: unknown };

/** Any operation of a JSON Patch (RFC 6902). */
export type JsonPatchOperation =
  | PatchOperation
  | { op: "move" | "copy"; from: string; path: string }
  | { op: "test"; path: string; value: unknown };

/** A JSON Patch that cannot be applied: a path that does not exist, a failed `test`, a malformed operation. */
export class JsonPatchError extends Error {}

const escapeKey = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

/**
 * The JSON Patch (RFC 6902) that turns `from` into `to`, for mutating webhooks: a handler returns the object as it
 * wants it, and the apiserver wants the difference. One op per changed leaf; arrays that changed length are
 * replaced whole, which is always correct, where an index-shifting diff could mis-target a concurrent change.
 * Empty when they are equal.
 */
export function jsonPatch(from: unknown, to: unknown, path = ""): PatchOperation[] {
  if (isJsonObject(from) && isJsonObject(to)) {
    const ops: PatchOperation[] = [];
    for (const key of Object.keys(from)) {
      if (!(key in to) || to[key] === undefined) {
        if (from[key] !== undefined) ops.push({ op: "remove", path: `${path}/${escapeKey(key)}` });
      }
    }
    for (const [key, value] of Object.entries(to)) {
      if (value === undefined) continue;
      const p = `${path}/${escapeKey(key)}`;
      if (!(key in from) || from[key] === undefined) ops.push({ op: "add", path: p, value });
      else ops.push(...jsonPatch(from[key], value, p));
    }
    return ops;
  }
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
    return from.flatMap((item, i) => jsonPatch(item, to[i], `${path}/${i}`));
  }
  if (deepEqual(from, to)) return [];
  return [{ op: "replace", path, value: to }];
}

/**
 * Applies a JSON Patch (RFC 6902) to a copy of `doc`, every operation included (add, remove, replace, move, copy,
 * test). Throws a JsonPatchError, as the apiserver refuses the patch, when an operation cannot be applied; the
 * operations are checked as they are applied, so that a patch received as JSON can be given as it is.
 */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOperation[]): T {
  let root: unknown = structuredClone(doc);
  const add = (pointer: string, value: unknown) => {
    const tokens = parsePointer(pointer);
    if (tokens.length === 0) {
      root = value;
      return;
    }
    const { parent, last } = parentOf(root, tokens, pointer);
    if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true, pointer), 0, value);
    else parent[last] = value;
  };
  const remove = (pointer: string): unknown => {
    const tokens = parsePointer(pointer);
    if (tokens.length === 0) throw new JsonPatchError("cannot remove the whole document");
    const { parent, last } = parentOf(root, tokens, pointer);
    if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false, pointer), 1)[0];
    if (!Object.hasOwn(parent, last)) throw new JsonPatchError(`unable to remove nonexistent key: ${pointer}`);
    const old = parent[last];
    delete parent[last];
    return old;
  };
  for (const raw of ops as readonly unknown[]) {
    if (!isJsonObject(raw)) throw new JsonPatchError("each operation must be an object");
    const op = raw.op;
    const path = raw.path as string;
    switch (op) {
      case "add":
        if (!("value" in raw)) throw new JsonPatchError(`add ${path}: missing value`);
        add(path, structuredClone(raw.value));
        break;
      case "remove":
        remove(path);
        break;
      case "replace": {
        if (!("value" in raw)) throw new JsonPatchError(`replace ${path}: missing value`);
        const tokens = parsePointer(path);
        resolve(root, tokens, path);
        if (tokens.length > 0) remove(path);
        add(path, structuredClone(raw.value));
        break;
      }
      case "move": {
        const from = raw.from as string;
        if (path !== from && path.startsWith(`${from}/`)) throw new JsonPatchError(`cannot move ${from} into itself`);
        const value = remove(from);
        add(path, value);
        break;
      }
      case "copy":
        add(path, structuredClone(resolve(root, parsePointer(raw.from), raw.from as string)));
        break;
      case "test": {
        const actual = resolve(root, parsePointer(path), path);
        if (!deepEqual(actual, raw.value)) throw new JsonPatchError(`testing value ${path} failed`);
        break;
      }
      default:
        throw new JsonPatchError(`unexpected operation "${String(op)}"`);
    }
  }
  return root as T;
}

type Container = Record<string, unknown> | unknown[];

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== "string") throw new JsonPatchError("path must be a string");
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new JsonPatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean, pointer: string): number {
  if (forAdd && token === "-") return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new JsonPatchError(`invalid array index "${token}" in ${pointer}`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length))
    throw new JsonPatchError(`array index out of bounds: ${pointer}`);
  return i;
}

function resolve(doc: unknown, tokens: string[], pointer: string): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false, pointer)];
    else if (isJsonObject(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw new JsonPatchError(`path ${pointer} does not exist`);
  }
  return cur;
}

function parentOf(doc: unknown, tokens: string[], pointer: string): { parent: Container; last: string } {
  const parent = resolve(doc, tokens.slice(0, -1), pointer);
  if (!Array.isArray(parent) && !isJsonObject(parent)) throw new JsonPatchError(`path ${pointer} does not exist`);
  return { parent, last: tokens[tokens.length - 1] as string };
}
