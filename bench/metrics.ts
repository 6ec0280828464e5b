/**
 * API requests as the apiserver counts them: `apiserver_request_total` from `/metrics`, by verb, resource
 * (with subresource) and code. The harness takes a snapshot before and after a phase; the difference, minus the
 * requests the harness itself made in that time (its load generator and its watches, counted in a Ledger with the
 * same keys), is what the operator sent. Only the resources of the job are counted: the apiserver's own loopback
 * requests (its lease renewals, and after a restart its bootstrap of RBAC, priority classes and services) fall
 * on other resources, and so do non-resource paths (discovery, /metrics).
 */
import type { ControlPlane } from "../src/cluster/index.ts";

/** `VERB resource[/subresource] code` → count, e.g. `POST configmaps 201`, `PUT benches/status 200`. */
export type RequestCounts = Record<string, number>;

/** What the peers read and write: Benches, ConfigMaps, Events (some frameworks post them), kopf's peering objects. */
const jobResources = new Set(["benches", "configmaps", "events", "kopfpeerings", "clusterkopfpeerings"]);

const line = /^apiserver_request_total\{([^}]*)\}\s+([0-9.e+]+)/;
const label = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text format's `apiserver_request_total` samples. */
export function parseRequestTotals(text: string): RequestCounts {
  const counts: RequestCounts = {};
  for (const l of text.split("\n")) {
    const m = line.exec(l);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[1] ?? "").matchAll(label)) labels[k as string] = v as string;
    if (!jobResources.has(labels.resource ?? "")) continue;
    const resource = labels.subresource ? `${labels.resource}/${labels.subresource}` : labels.resource;
    const key = `${labels.verb} ${resource} ${labels.code}`;
    counts[key] = (counts[key] ?? 0) + Number(m[2]);
  }
  return counts;
}

export async function scrapeRequests(plane: ControlPlane): Promise<RequestCounts> {
  const res = await plane.http.request<string>("GET", "/metrics", undefined, { timeoutMs: 30_000 });
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return parseRequestTotals(String(res.body));
}

/** `a - b` per key, dropping zeros (and negatives, which only a counter reset can cause). */
export function subtract(a: RequestCounts, b: RequestCounts): RequestCounts {
  const out: RequestCounts = {};
  for (const [k, v] of Object.entries(a)) {
    const d = v - (b[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

export function add(a: RequestCounts, b: RequestCounts): RequestCounts {
  const out: RequestCounts = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The harness's own requests, keyed like RequestCounts. */
export class Ledger {
  private counts: RequestCounts = {};

  record(verb: string, resource: string, code: number): void {
    const key = `${verb} ${resource} ${code}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  snapshot(): RequestCounts {
    return { ...this.counts };
  }
}

/** Totals by verb (every resource and code), e.g. `{ POST: 1000, PUT: 1000, LIST: 2 }`. */
export function byVerb(counts: RequestCounts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) {
    const verb = k.split(" ")[0] ?? "?";
    out[verb] = (out[verb] ?? 0) + v;
  }
  return out;
}

/** Requests answered with this code (e.g. 409 conflicts). */
export function withCode(counts: RequestCounts, code: number): number {
  let n = 0;
  for (const [k, v] of Object.entries(counts)) if (k.endsWith(` ${code}`)) n += v;
  return n;
}

/** Write verbs: what a no-op reconcile must not send. */
export const writeVerbs = ["POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"] as const;

export function writes(counts: RequestCounts): number {
  const verbs = byVerb(counts);
  return writeVerbs.reduce((sum, v) => sum + (verbs[v] ?? 0), 0);
}
