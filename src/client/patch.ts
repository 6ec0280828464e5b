/** Structural helpers over plain JSON values, used to decide whether a write is needed and what to send. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
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
  if (isObject(a) && isObject(b)) {
    const ak = Object.keys(a).filter((k) => a[k] !== undefined);
    const bk = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ak.length !== bk.length) return false;
    for (const k of ak) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

/**
 * The JSON merge patch (RFC 7386) that turns `before` into `after`: changed and new fields with their new value,
 * removed fields as null, arrays replaced whole. Undefined when nothing differs.
 */
export function mergePatch(before: unknown, after: unknown): Record<string, unknown> | undefined {
  if (!isObject(before) || !isObject(after)) {
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
    if (isObject(old) && isObject(value)) {
      const nested = mergePatch(old, value);
      if (nested) patch[key] = nested;
    } else {
      patch[key] = value;
    }
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
