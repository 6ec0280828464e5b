/**
 * The JSON Patch (RFC 6902) from one JSON value to another, for mutating webhooks: a handler returns the object
 * as it wants it, and the apiserver wants the difference. Hand-written because it is small and the patch must be
 * minimal and deterministic (one op per changed leaf; arrays that changed length are replaced whole, which is
 * always correct, where an index-shifting diff could mis-target a concurrent change).
 */
export type PatchOperation =
  | { op: "add"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "replace"; path: string; value: unknown };

const escapeKey = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Operations that turn `from` into `to`; empty when they are equal. */
export function jsonPatch(from: unknown, to: unknown, path = ""): PatchOperation[] {
  if (isObject(from) && isObject(to)) {
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

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** Applies a patch made by jsonPatch (tests and the fake client; not a general RFC 6902 implementation). */
export function applyJsonPatch<T>(doc: T, ops: readonly PatchOperation[]): T {
  let root: unknown = structuredClone(doc);
  for (const op of ops) {
    if (op.path === "") {
      root = op.op === "remove" ? undefined : structuredClone(op.value);
      continue;
    }
    const keys = op.path
      .slice(1)
      .split("/")
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop() as string;
    let parent = root as Record<string, unknown>;
    for (const k of keys) parent = parent[k] as Record<string, unknown>;
    if (op.op === "remove") {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else parent[last] = structuredClone(op.value);
  }
  return root as T;
}
