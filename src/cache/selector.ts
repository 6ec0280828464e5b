/**
 * Label selectors as the apiserver understands them (`a=b,c!=d,e in (x,y),f notin (z),g,!h`), so that reads from
 * the cache filter exactly like lists from the server.
 */

type Requirement =
  | { op: "in"; key: string; values: Set<string> }
  | { op: "notin"; key: string; values: Set<string> }
  | { op: "exists"; key: string }
  | { op: "notexists"; key: string };

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

/** Parses a selector string; throws with the offending part when it is malformed. */
export function parseLabelSelector(selector: string): LabelMatcher {
  const reqs: Requirement[] = [];
  for (const part of splitTopLevel(selector)) {
    const p = part.trim();
    if (!p) continue;
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    if (m) {
      const values = new Set(
        (m[3] as string)
          .split(",")
          .map((v) => v.trim())
          .filter((v) => v !== ""),
      );
      reqs.push({ op: m[2] as "in" | "notin", key: m[1] as string, values });
      continue;
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(p);
    if (m) {
      const values = new Set([m[3] as string]);
      reqs.push({ op: m[2] === "!=" ? "notin" : "in", key: m[1] as string, values });
      continue;
    }
    m = /^(!?)([\w./-]+)$/.exec(p);
    if (m) {
      reqs.push({ op: m[1] ? "notexists" : "exists", key: m[2] as string });
      continue;
    }
    throw new Error(`invalid label selector "${selector}": cannot parse "${p}"`);
  }
  return (labels) => reqs.every((r) => matches(r, labels ?? {}));
}

/** Builds the selector string for exact label matches, e.g. `{ app: "web" }` → `app=web`. */
export function matchLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

function matches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.op) {
    case "exists":
      return has;
    case "notexists":
      return !has;
    case "in":
      return has && r.values.has(labels[r.key] as string);
    case "notin":
      return !has || !r.values.has(labels[r.key] as string);
  }
}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}
