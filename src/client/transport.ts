import { Pool } from "undici";
import type { ConnectionConfig } from "./config.ts";
import { apiErrorFor } from "./errors.ts";

/**
 * HTTP to the apiserver, written directly on undici rather than through @kubernetes/client-node's generated
 * API classes: objects stay plain parsed JSON (its ObjectSerializer costs ~2.5x JSON.parse time and ~2.2x the
 * heap), connections are pooled and kept alive, and watch bodies are streamed with backpressure.
 */

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestSpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Query;
  /** Sent as JSON (a string is sent as it is). */
  body?: unknown;
  contentType?: string;
  /** Accept header (default `application/json`); e.g. `as=PartialObjectMetadata` for metadata-only reads. */
  accept?: string;
  signal?: AbortSignal;
}

/** Hooks for client metrics (rest_client_requests_total, rest_client_request_duration_seconds). */
export interface TransportObserver {
  request?(info: { method: string; code: number; seconds: number; host: string }): void;
}

export interface TransportOptions {
  /** Keep-alive connections for ordinary requests (default 32). Watches use a pool of their own, unbounded. */
  connections?: number;
  observer?: TransportObserver;
  /** User-Agent header (default `converge`). */
  userAgent?: string;
}

export function buildPath(path: string, query?: Query): string {
  if (!query) return path;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `${path}?${parts.join("&")}` : path;
}

export class Transport {
  readonly config: ConnectionConfig;
  private readonly requests: Pool;
  private readonly watches: Pool;
  private readonly prefix: string;
  private readonly host: string;
  private readonly observers: TransportObserver[] = [];
  private readonly userAgent: string;

  constructor(config: ConnectionConfig, options: TransportOptions = {}) {
    this.config = config;
    const url = new URL(config.server);
    this.prefix = url.pathname.replace(/\/+$/, "");
    this.host = url.host;
    if (options.observer) this.observers.push(options.observer);
    this.userAgent = options.userAgent ?? "converge";
    const connect = {
      ...(config.tls.ca ? { ca: config.tls.ca } : {}),
      ...(config.tls.cert ? { cert: config.tls.cert } : {}),
      ...(config.tls.key ? { key: config.tls.key } : {}),
      ...(config.tls.servername ? { servername: config.tls.servername } : {}),
      rejectUnauthorized: config.tls.rejectUnauthorized ?? true,
    };
    this.requests = new Pool(url.origin, {
      connections: options.connections ?? 32,
      connect,
      keepAliveTimeout: 30_000,
    });
    // A watch holds its connection for minutes, so watches must never queue behind each other or behind
    // ordinary requests; their body timeout is off because the informer runs its own inactivity timer.
    this.watches = new Pool(url.origin, { connections: null, connect, bodyTimeout: 0, keepAliveTimeout: 30_000 });
  }

  private async headers(spec: RequestSpec, refresh: boolean): Promise<Record<string, string>> {
    const auth = await this.config.authorization({ refresh });
    const h: Record<string, string> = { accept: spec.accept ?? "application/json", "user-agent": this.userAgent };
    if (auth) h.authorization = auth;
    if (spec.body !== undefined) h["content-type"] = spec.contentType ?? "application/json";
    return h;
  }

  /** Sends a request and returns its parsed JSON body; throws a typed ApiError on a non-2xx answer. */
  async json<T>(spec: RequestSpec): Promise<T> {
    const path = this.prefix + buildPath(spec.path, spec.query);
    const body =
      spec.body === undefined ? undefined : typeof spec.body === "string" ? spec.body : JSON.stringify(spec.body);
    const started = performance.now();
    let res = await this.requests.request({
      method: spec.method,
      path,
      headers: await this.headers(spec, false),
      body,
      signal: spec.signal,
    });
    if (res.statusCode === 401) {
      // An expired exec-plugin or rotated service-account token: refresh once and try again.
      await res.body.dump();
      res = await this.requests.request({
        method: spec.method,
        path,
        headers: await this.headers(spec, true),
        body,
        signal: spec.signal,
      });
    }
    const text = await res.body.text();
    this.report(spec.method, res.statusCode, started);
    const parsed = parseBody(text, res.headers["content-type"]);
    if (res.statusCode < 200 || res.statusCode > 299) {
      const retryAfter = res.headers["retry-after"];
      throw apiErrorFor(res.statusCode, parsed, `${spec.method} ${spec.path}`, {
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      });
    }
    return parsed as T;
  }

  /**
   * Opens a streaming GET (a watch) and yields one parsed JSON value per line. Iteration pulls from the socket,
   * so a slow consumer slows the stream instead of buffering it in memory. Abort `signal` to close it.
   */
  async *lines<T>(spec: Omit<RequestSpec, "method" | "body">): AsyncGenerator<T> {
    const path = this.prefix + buildPath(spec.path, spec.query);
    const started = performance.now();
    // undici does not give up on a request still waiting for its connection (a TLS handshake with a frozen
    // apiserver) when the signal aborts; racing the signal makes an informer's stall timeout effective there too.
    const res = await abortable(
      this.watches.request({
        method: "GET",
        path,
        headers: await this.headers({ ...spec, method: "GET" }, false),
        signal: spec.signal,
      }),
      spec.signal,
      (late) => late.body.destroy(),
    );
    this.report("WATCH", res.statusCode, started);
    if (res.statusCode < 200 || res.statusCode > 299) {
      const text = await res.body.text();
      throw apiErrorFor(res.statusCode, parseBody(text, res.headers["content-type"]), `WATCH ${spec.path}`);
    }
    const pending: Buffer[] = [];
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        let start = 0;
        let nl = chunk.indexOf(10);
        while (nl >= 0) {
          const piece = chunk.subarray(start, nl);
          const line = pending.length ? Buffer.concat([...pending.splice(0), piece]) : piece;
          if (line.length > 0) yield JSON.parse(line.toString("utf8")) as T;
          start = nl + 1;
          nl = chunk.indexOf(10, start);
        }
        if (start < chunk.length) pending.push(chunk.subarray(start));
      }
    } finally {
      res.body.destroy();
    }
  }

  /** Adds an observer of every request (e.g. a manager's metrics). */
  observe(observer: TransportObserver): void {
    this.observers.push(observer);
  }

  private report(method: string, code: number, started: number): void {
    if (this.observers.length === 0) return;
    const info = { method, code, seconds: (performance.now() - started) / 1000, host: this.host };
    for (const o of this.observers) o.request?.(info);
  }

  async close(): Promise<void> {
    await Promise.all([this.requests.destroy(), this.watches.destroy()]);
  }
}

/** Rejects as soon as `signal` aborts; a result that arrives later is handed to `late` (to release it). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, late: (value: T) => void): Promise<T> {
  if (!signal) return promise;
  const drop = () => promise.then(late, () => {});
  if (signal.aborted) {
    drop();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      drop();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** JSON when the server says so; plain text otherwise (proxies and some errors answer text/plain). */
function parseBody(text: string, contentType: string | string[] | undefined): unknown {
  const ct = (Array.isArray(contentType) ? contentType[0] : contentType) ?? "";
  if (!text || !ct.includes("json")) return text;
  return JSON.parse(text);
}
