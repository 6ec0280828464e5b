import { createSecureContext } from "node:tls";
import type { ConnectionConfig } from "./config.ts";
import { apiErrorFor, RequestTimeoutError } from "./errors.ts";
import {
  type Cancellable,
  type Http1Head,
  Http1Pool,
  type Http1Response,
  type Http1Stream,
  requestBytes,
} from "./http1.ts";
import { RequestRateLimiter } from "./rate-limit.ts";

/**
 * HTTP to the apiserver, written directly on TLS sockets rather than through @kubernetes/client-node's generated
 * API classes: objects stay plain parsed JSON (its ObjectSerializer costs ~2.5x JSON.parse time and ~2.2x the
 * heap), connections are kept alive, and watch bodies are streamed with backpressure.
 *
 * Why HTTP/1.1, on a client of our own (http1.ts): measured against the apiserver on one core, a GET+PUT pair
 * costs 0.91 ms of CPU through undici with HTTP/2, 0.61 ms through node:http2, 0.56-0.58 ms through node:https,
 * and 0.40 ms through http1.ts (one pair in flight); loading undici adds 78 MB of RSS, node:http2 36 MB. A watch holds a connection of
 * its own, as with client-go over HTTP/1.1.
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
  /** Overrides the transport's `requestTimeoutMs` for this request (0: none). */
  timeoutMs?: number;
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
  /**
   * The longest an ordinary request may take, from sending to the last byte of the answer, before it is aborted
   * with a RequestTimeoutError naming the verb and path (default 30,000 ms; 0: no limit). For a watch it bounds
   * the wait for the response head only; a watch that then goes silent is the informer's to detect.
   */
  requestTimeoutMs?: number;
  /** The longest a new connection may take to connect (TCP and TLS) (default 10,000 ms; 0: no limit). */
  connectTimeoutMs?: number;
  /**
   * A client-side limit of requests a second, watches included (client-go's QPS); off by default, as in
   * controller-runtime since 0.15: the apiserver's API Priority and Fairness protects it better, answering 429
   * with Retry-After, which the work queue honours. For a client that must stay under a budget of its own.
   */
  qps?: number;
  /** Requests let through at once above `qps` (default: `qps`, at least 1). */
  burst?: number;
  /**
   * How many times a request answered 429 with Retry-After (any verb: the apiserver refused it unprocessed), or a
   * read answered 5xx with Retry-After, is sent again after the wait the apiserver asked for, as client-go does
   * (default 3; 0: never). Waits count to the request's timeout; one that would not fit is not made.
   */
  throttledRetries?: number;
}

/** Default of {@link TransportOptions.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Default of {@link TransportOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The time limit of one request (its retries and credential refreshes included): when it passes, the request in
 * flight is destroyed with the timeout error, which then surfaces instead of the reset that causes.
 */
class Deadline {
  private req: Cancellable | undefined;
  private timer: NodeJS.Timeout | undefined;
  expired = false;
  private readonly ms: number;
  private readonly what: string;
  private timeoutError: RequestTimeoutError | undefined;

  private readonly endsAt: number | undefined;

  constructor(ms: number, what: string) {
    this.ms = ms;
    this.what = what;
    if (!(ms > 0)) return;
    this.endsAt = performance.now() + ms;
    this.timer = setTimeout(() => {
      this.expired = true;
      this.req?.destroy(this.error);
    }, ms);
    this.timer.unref();
  }

  /** The timeout error, made only when the deadline passed: an Error's stack trace costs more than the request. */
  get error(): RequestTimeoutError {
    this.timeoutError ??= new RequestTimeoutError(this.what, this.ms);
    return this.timeoutError;
  }

  /** Whether `ms` from now is still before the deadline (with a second to spare for the request itself). */
  allows(ms: number): boolean {
    return this.endsAt === undefined || performance.now() + ms + 1_000 < this.endsAt;
  }

  track(req: Cancellable): void {
    this.req = req;
    if (this.expired) req.destroy(this.error);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.req = undefined;
  }
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
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
  private readonly requests: Http1Pool;
  private readonly watches: Http1Pool;
  private readonly prefix: string;
  private readonly host: string;
  private readonly observers: TransportObserver[] = [];
  private readonly userAgent: string;
  private readonly requestTimeoutMs: number;
  private readonly throttledRetries: number;
  private readonly limiter: RequestRateLimiter | undefined;

  constructor(config: ConnectionConfig, options: TransportOptions = {}) {
    this.config = config;
    const url = new URL(config.server);
    this.prefix = url.pathname.replace(/\/+$/, "");
    this.host = url.host;
    if (options.observer) this.observers.push(options.observer);
    this.userAgent = options.userAgent ?? "converge";
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.throttledRetries = options.throttledRetries ?? 3;
    if (options.qps !== undefined) {
      this.limiter = new RequestRateLimiter(options.qps, options.burst ?? Math.max(1, Math.ceil(options.qps)));
    }
    const secure = url.protocol === "https:";
    // One secure context for every connection: given the PEMs, each TLS handshake would parse them again.
    const target = {
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(url.port || (secure ? 443 : 80)),
      ...(secure
        ? {
            tls: {
              secureContext: createSecureContext({
                ...(config.tls.ca ? { ca: config.tls.ca } : {}),
                ...(config.tls.cert ? { cert: config.tls.cert } : {}),
                ...(config.tls.key ? { key: config.tls.key } : {}),
              }),
              ...(config.tls.servername ? { servername: config.tls.servername } : {}),
              rejectUnauthorized: config.tls.rejectUnauthorized ?? true,
            },
          }
        : {}),
    };
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.requests = new Http1Pool(target, { maxConnections: options.connections ?? 32, connectTimeoutMs });
    // A watch holds its connection for minutes, so watches must never queue behind each other or behind
    // ordinary requests: they get a pool of their own without a connection limit.
    this.watches = new Http1Pool(target, { connectTimeoutMs, reuse: false });
  }

  private async headers(spec: RequestSpec, refresh: boolean, body?: string): Promise<Record<string, string>> {
    const auth = await this.config.authorization({ refresh });
    const h: Record<string, string> = { accept: spec.accept ?? "application/json", "user-agent": this.userAgent };
    if (auth) h.authorization = auth;
    if (body !== undefined) {
      h["content-type"] = spec.contentType ?? "application/json";
      h["content-length"] = String(Buffer.byteLength(body));
    }
    return h;
  }

  /**
   * Sends one request and reads its response.
   *
   * A kept-alive connection the server closed while it sat idle fails with ECONNRESET; so does one the server
   * reset after it had read (and perhaps committed) the request. Nothing tells the two apart (bytes written reached
   * the local socket, not necessarily the apiserver, and the error comes the same way in both cases). So only
   * reads (GET, HEAD: nothing to apply twice) are sent again, once, on a new connection; a write fails with the
   * error, because a POST sent twice creates a second `generateName` object and a JSON patch sent twice applies
   * twice. The caller decides (the work queue retries the reconcile, which reads the current state first).
   */
  private send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
    deadline: Deadline,
  ): Promise<Http1Response> {
    return this.requests.request(method, path, requestBytes(method, path, this.host, headers, body), {
      signal,
      track: (r) => deadline.track(r),
      idempotent: method === "GET" || method === "HEAD",
    });
  }

  /** Sends a request and returns its parsed JSON body; throws a typed ApiError on a non-2xx answer. */
  async json<T>(spec: RequestSpec): Promise<T> {
    const path = this.prefix + buildPath(spec.path, spec.query);
    const body =
      spec.body === undefined ? undefined : typeof spec.body === "string" ? spec.body : JSON.stringify(spec.body);
    // Waiting for the client's own rate limit is not the apiserver's delay: it does not count to the timeout.
    if (this.limiter) await this.limiter.wait(spec.signal);
    const started = performance.now();
    const deadline = new Deadline(spec.timeoutMs ?? this.requestTimeoutMs, `${spec.method} ${spec.path}`);
    let res: Http1Response;
    try {
      const sendOnce = async (refresh: boolean) =>
        this.send(spec.method, path, await this.headers(spec, refresh, body), body, spec.signal, deadline);
      res = await sendOnce(false);
      if (res.status === 401) {
        // An expired exec-plugin or rotated service-account token: refresh once and try again.
        res = await sendOnce(true);
      }
      for (let retry = 0; retry < this.throttledRetries; retry++) {
        const waitMs = this.throttleWaitMs(spec.method, res, deadline);
        if (waitMs === undefined) break;
        this.report(spec.method, res.status, started);
        await abortableSleep(waitMs, spec.signal);
        res = await sendOnce(false);
      }
    } catch (err) {
      throw deadline.expired ? deadline.error : abortReason(spec.signal, err);
    } finally {
      deadline.clear();
    }
    const code = res.status;
    this.report(spec.method, code, started);
    const parsed = parseBody(res.body, res.headers["content-type"]);
    if (code < 200 || code > 299) {
      throw apiErrorFor(code, parsed, `${spec.method} ${spec.path}`, { retryAfter: res.headers["retry-after"] });
    }
    return parsed as T;
  }

  /**
   * The wait before sending again an answer that asks for one: a 429 with Retry-After (the apiserver's priority
   * and fairness, or max-in-flight, refused it before doing anything, so any verb is safe to resend) or a 5xx
   * with Retry-After to a read; undefined when there is none, or it would not fit before the deadline. Up to 10%
   * longer than asked, so that the clients throttled together do not all come back in the same instant.
   */
  private throttleWaitMs(method: string, res: Http1Head, deadline: Deadline): number | undefined {
    const code = res.status;
    if (code !== 429 && !(code >= 500 && (method === "GET" || method === "HEAD"))) return undefined;
    const header = res.headers["retry-after"];
    const seconds = header === undefined ? Number.NaN : Number(header);
    if (!Number.isFinite(seconds) || seconds < 0) return undefined;
    const waitMs = seconds * 1000 * (1 + Math.random() * 0.1);
    return deadline.allows(waitMs) ? waitMs : undefined;
  }

  /**
   * Opens a streaming GET (a watch) and yields one parsed JSON value per line. Iteration pulls from the socket,
   * so a slow consumer slows the stream instead of buffering it in memory. Abort `signal` to close it (also while
   * it is still connecting, e.g. to a frozen apiserver).
   */
  async *lines<T>(spec: Omit<RequestSpec, "method" | "body">): AsyncGenerator<T> {
    const path = this.prefix + buildPath(spec.path, spec.query);
    if (this.limiter) await this.limiter.wait(spec.signal);
    const started = performance.now();
    // The apiserver sends a watch's response head at once: waiting longer for it means a hung connection.
    const deadline = new Deadline(spec.timeoutMs ?? this.requestTimeoutMs, `WATCH ${spec.path}`);
    let res: Http1Stream;
    const open = async (refresh: boolean) =>
      this.watches.stream(
        "GET",
        path,
        requestBytes("GET", path, this.host, await this.headers({ ...spec, method: "GET" }, refresh), undefined),
        { signal: spec.signal, track: (r) => deadline.track(r), idempotent: true },
      );
    try {
      res = await open(false);
      if (res.status === 401) {
        // As for ordinary requests: an expired token is refreshed once, and the watch opened again.
        res.close();
        res = await open(true);
      }
      const code = res.status;
      this.report("WATCH", code, started);
      if (code < 200 || code > 299) {
        const chunks: Buffer[] = [];
        for await (const c of res.body) chunks.push(c);
        throw apiErrorFor(code, parseBody(Buffer.concat(chunks), res.headers["content-type"]), `WATCH ${spec.path}`);
      }
    } catch (err) {
      throw deadline.expired ? deadline.error : abortReason(spec.signal, err);
    } finally {
      deadline.clear();
    }
    const pending: Buffer[] = [];
    try {
      for await (const chunk of res.body) {
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
    } catch (err) {
      throw abortReason(spec.signal, err);
    } finally {
      // A watch left early (an abort, a consumer that stopped) must not hand a half-read connection back.
      if (!res.complete) res.close();
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
    this.requests.close();
    this.watches.close();
  }
}

/** An aborted request fails with the abort's reason (an AbortError), not with the reset it causes. */
function abortReason(signal: AbortSignal | undefined, err: unknown): unknown {
  return signal?.aborted ? signal.reason : err;
}

/** JSON when the server says so; plain text otherwise (proxies and some errors answer text/plain). */
function parseBody(body: Buffer, contentType: string | undefined): unknown {
  const text = body.toString("utf8");
  if (!text || !(contentType ?? "").includes("json")) return text;
  return JSON.parse(text);
}
