/**
 * Label and field selectors as the apiserver parses them, shared by the cache (filtering reads) and the fake client
 * (filtering lists and watches), so that both filter exactly like the server.
 */

/** Whether a set of labels matches a selector. */
export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;
/** Whether an object matches a field selector. */
export type FieldMatcher = (obj: unknown) => boolean;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const labelKey = "[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?";
const labelValue = "(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?";
const setRe = new RegExp(String.raw`^(${labelKey})\s+(in|notin)\s*\(([^()]*)\)$`);
const compareRe = new RegExp(String.raw`^(${labelKey})\s*(==|=|!=|>|<)\s*(${labelValue})$`);
const existsRe = new RegExp(String.raw`^(!?)\s*(${labelKey})$`);
const valueRe = new RegExp(`^${labelValue}$`);

/** Label selectors as the apiserver parses them: `a=b,c!=d,e in (x,y),f notin (z),g,!h,n>1`. */
export function parseLabelSelector(selector: string): LabelMatcher {
  const tests: Array<(labels: Record<string, string>) => boolean> = [];
  let depth = 0;
  let start = 0;
  const parts: string[] = [];
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  for (const raw of parts) {
    const p = raw.trim();
    if (p === "") {
      if (parts.length === 1) continue;
      throw new Error(`unable to parse requirement: found empty requirement in "${selector}"`);
    }
    let m = setRe.exec(p);
    if (m) {
      const key = m[1] as string;
      const values = (m[3] as string).split(",").map((v) => v.trim());
      if (values.some((v) => !valueRe.test(v)) || (values.length === 1 && values[0] === "")) {
        throw new Error(`unable to parse requirement: invalid values in "${p}"`);
      }
      const set = new Set(values);
      tests.push(
        m[2] === "in"
          ? (l) => Object.hasOwn(l, key) && set.has(l[key] as string)
          : (l) => !Object.hasOwn(l, key) || !set.has(l[key] as string),
      );
      continue;
    }
    m = compareRe.exec(p);
    if (m) {
      const key = m[1] as string;
      const value = m[3] as string;
      const op = m[2] as string;
      if (op === ">" || op === "<") {
        if (!/^-?\d+$/.test(value)) throw new Error(`unable to parse requirement: "${p}" needs an integer value`);
        const n = Number(value);
        tests.push((l) => {
          const v = l[key];
          if (v === undefined || !/^-?\d+$/.test(v)) return false;
          return op === ">" ? Number(v) > n : Number(v) < n;
        });
      } else if (op === "!=") {
        tests.push((l) => l[key] !== value);
      } else {
        tests.push((l) => Object.hasOwn(l, key) && l[key] === value);
      }
      continue;
    }
    m = existsRe.exec(p);
    if (m) {
      const key = m[2] as string;
      tests.push(m[1] ? (l) => !Object.hasOwn(l, key) : (l) => Object.hasOwn(l, key));
      continue;
    }
    throw new Error(`unable to parse requirement: invalid label selector "${p}"`);
  }
  return (labels) => tests.every((t) => t(labels ?? {}));
}

/** Field selectors `path=value`, `path==value`, `path!=value`, comma-separated; `\` escapes `,`, `=` and `!`. */
export function parseFieldSelector(selector: string): FieldMatcher {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i] as string;
    if (c === "\\" && i + 1 < selector.length) {
      cur += c + selector[i + 1];
      i++;
    } else if (c === ",") {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  const tests: FieldMatcher[] = [];
  for (const raw of parts) {
    const p = raw.trim();
    if (p === "") continue;
    const m = /^([A-Za-z0-9_.-]+)\s*(==|=|!=)(.*)$/s.exec(p);
    if (!m) throw new Error(`invalid field selector "${p}": expected field=value or field!=value`);
    const path = (m[1] as string).split(".");
    const value = (m[3] as string).trim().replace(/\\(.)/g, "$1");
    const negate = m[2] === "!=";
    tests.push((o) => (fieldValue(o, path) === value) !== negate);
  }
  return (o) => tests.every((t) => t(o));
}

function fieldValue(obj: unknown, path: string[]): string {
  let cur = obj;
  for (const p of path) {
    if (!isObject(cur)) return "";
    cur = cur[p];
  }
  return cur === undefined || cur === null ? "" : typeof cur === "object" ? JSON.stringify(cur) : String(cur);
}

/** The selector string for exact label matches, e.g. `{ app: "web" }` → `app=web`. */
export function matchLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}
