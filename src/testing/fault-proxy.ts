/**
 * A fault-injecting proxy between an operator and the apiserver, for tests of what survives a bad network or a
 * struggling apiserver: delays, stalls (the request is accepted and never answered, as on a half-open
 * connection), resets before or after the apiserver saw the request, bodies cut mid-way, canned errors (409, 410,
 * 429 with Retry-After, 500, 503), watches cut, and a partition that freezes every connection at once.
 *
 * It listens on 127.0.0.1 with TLS of its own (a CA made at start, in the kubeconfig it writes) and forwards each
 * request to the apiserver with the upstream credentials, or with the client's own bearer token when it sends one.
 * Every fault is bounded: rules apply a given number of times, and a stalled request is released after `maxHoldMs`.
 * Written by hand because it must act per HTTP request (by verb, path and client) with knowledge of Kubernetes
 * verbs and watches, which TCP-level tools (toxiproxy and the like) cannot.
 */
import { randomInt } from "node:crypto";
import { writeFile } from "node:fs/promises";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Agent, createServer, request as httpsRequest, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { ClusterCredentials } from "../cluster/http.ts";
import { kubeconfigYaml } from "../cluster/kubeconfig.ts";
import { createCa, issueLeaf } from "../pki/index.ts";

/** The Kubernetes verb of a request, as RBAC and audit name it. */
export type KubeVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

/** What to do to a matching request. */
export type FaultAction =
  /** Forward it after a delay. */
  | { delayMs: number }
  /** Accept it and never answer (until `heal`, `stop`, or `maxHoldMs`), like a half-open connection. */
  | { stall: true }
  /** Answer with this status without forwarding (a Kubernetes Status body; `retryAfterSeconds` sets Retry-After). */
  | { status: number; retryAfterSeconds?: number; reason?: string; message?: string }
  /**
   * Reset the client's connection: `before` forwarding (the apiserver never saw the request) or `after` the
   * apiserver answered (its effect is committed; the client cannot know).
   */
  | { reset: "before" | "after" }
  /** Forward it, send the response head and the first `bytes` of the body, then reset the connection. */
  | { dropAfterBytes: number }
  /** Forward a watch, then end its stream cleanly after `ms` (the client sees a watch that just ended). */
  | { cutAfterMs: number }
  /**
   * The client's resourceVersion is too old, as after an etcd compaction: a watch gets a 410 `Expired` ERROR event
   * (how the apiserver says it), any other request an HTTP 410.
   */
  | { expire: true };

/** Which requests a rule applies to: every one unless narrowed. */
export interface FaultMatch {
  verb?: KubeVerb | readonly KubeVerb[];
  method?: string | readonly string[];
  /** The path without its query, e.g. `/apis/coordination.k8s.io/v1/namespaces/ns/leases/op-leader`. */
  path?: string | RegExp;
  /** The resource (plural) and subresource, e.g. `leases`, `configmaps`, `status`. */
  resource?: string;
  subresource?: string;
  userAgent?: string | RegExp;
}

export interface FaultRule extends FaultMatch {
  action: FaultAction;
  /** Apply to at most this many matching requests (default: no limit while the rule is in place). */
  times?: number;
  /** Apply to each matching request with this probability (default 1). */
  probability?: number;
}

/** A rule in place: how often it applied, and how to take it away. */
export interface FaultHandle {
  readonly hits: number;
  remove(): void;
}

/** One request that went through the proxy. */
export interface ProxiedRequest {
  at: number;
  method: string;
  path: string;
  verb: KubeVerb | undefined;
  resource: string | undefined;
  userAgent: string;
  /** The status the client got, or 0 when it got none (stalled, reset). */
  status: number;
  /** When the apiserver's answer arrived (Date.now()), for requests it saw. */
  answeredAt?: number;
  /** The fault applied, if any. */
  fault?: string;
  /** Whether the apiserver saw it. */
  forwarded: boolean;
}

export interface FaultProxyOptions {
  /** The apiserver and the client certificate to reach it with (a test plane's `credentials`). */
  upstream: ClusterCredentials;
  /** The longest a stalled request is held before its connection is reset (default 5 min). */
  maxHoldMs?: number;
  /** How many requests `requests` keeps (default 20,000, the oldest dropped first). */
  historySize?: number;
}

interface ActiveRule {
  rule: FaultRule;
  hits: number;
  removed: boolean;
}

interface Held {
  release: (how: "forward" | "reset") => void;
}

/** A fault-injecting HTTPS proxy to an apiserver, on 127.0.0.1. */
export class FaultProxy {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** A kubeconfig that reaches the apiserver through this proxy. */
  readonly kubeconfig: string;
  /** The credentials of that kubeconfig (the proxy's CA, the upstream client certificate). */
  readonly credentials: Required<Pick<ClusterCredentials, "server" | "caCert" | "clientCert" | "clientKey">>;
  /** Recent requests, oldest first. */
  readonly requests: ProxiedRequest[] = [];
  private readonly options: FaultProxyOptions;
  private readonly https: Server;
  private readonly upstream: URL;
  private readonly certAgent: Agent;
  private readonly tokenAgent: Agent;
  private readonly rules: ActiveRule[] = [];
  private readonly held = new Set<Held>();
  private readonly streams = new Set<{ cut: (reset: boolean) => void; paused: (on: boolean) => void }>();
  private readonly sockets = new Set<Socket>();
  private partitioned = false;
  private stopped = false;

  private constructor(
    options: FaultProxyOptions,
    server: Server,
    url: string,
    kubeconfig: string,
    credentials: FaultProxy["credentials"],
  ) {
    this.options = options;
    this.https = server;
    this.server = url;
    this.kubeconfig = kubeconfig;
    this.credentials = credentials;
    this.upstream = new URL(options.upstream.server);
    const { caCert, clientCert, clientKey } = options.upstream;
    const tls = { ...(caCert ? { ca: caCert } : {}), keepAlive: true };
    this.certAgent = new Agent({ ...tls, ...(clientCert && clientKey ? { cert: clientCert, key: clientKey } : {}) });
    this.tokenAgent = new Agent(tls);
  }

  /** Starts a proxy to `upstream`; `kubeconfigPath` is where to write its kubeconfig. */
  static async start(options: FaultProxyOptions & { kubeconfigPath: string }): Promise<FaultProxy> {
    const { caCert, clientCert, clientKey } = options.upstream;
    if (!caCert || !clientCert || !clientKey) {
      throw new Error("FaultProxy: upstream needs caCert, clientCert and clientKey (a plane's admin credentials)");
    }
    const ca = await createCa({ commonName: "converge-fault-proxy-ca" });
    const serving = await issueLeaf(ca, { subject: "CN=converge-fault-proxy", usage: "server", ips: ["127.0.0.1"] });
    let proxy: FaultProxy | undefined;
    const server = createServer({ cert: serving.cert, key: serving.key }, (req, res) => {
      proxy?.handle(req, res);
    });
    // Faults decide how long a request takes, not the server's own timers.
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: 0 }, resolve);
    });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const credentials = { server: url, caCert: ca.cert, clientCert, clientKey };
    await writeFile(options.kubeconfigPath, kubeconfigYaml("fault-proxy", credentials), { mode: 0o600 });
    proxy = new FaultProxy(options, server, url, options.kubeconfigPath, credentials);
    const p = proxy;
    server.on("secureConnection", (socket: Socket) => {
      p.sockets.add(socket);
      socket.once("close", () => p.sockets.delete(socket));
    });
    return proxy;
  }

  /** Puts a rule in place; rules are tried in the order they were added, the first that matches applies. */
  inject(rule: FaultRule): FaultHandle {
    const active: ActiveRule = { rule, hits: 0, removed: false };
    this.rules.push(active);
    return {
      get hits() {
        return active.hits;
      },
      remove: () => {
        active.removed = true;
        const i = this.rules.indexOf(active);
        if (i >= 0) this.rules.splice(i, 1);
      },
    };
  }

  /** Removes every rule (a partition stays until `heal`). */
  clear(): void {
    for (const r of this.rules) r.removed = true;
    this.rules.length = 0;
  }

  /**
   * Freezes everything, as a network partition with connections left half-open: new requests are held unanswered
   * and responses in flight (watches) stop moving, until `heal`.
   */
  partition(): void {
    this.partitioned = true;
    for (const s of this.streams) s.paused(true);
  }

  /**
   * Ends a partition. Held requests are then reset (default: the connections died meanwhile) or forwarded late
   * (`forward`: the network came back and the old connections carried on), and streams resume.
   */
  heal(options: { held?: "reset" | "forward" } = {}): void {
    this.partitioned = false;
    this.release(options.held ?? "reset");
    for (const s of this.streams) s.paused(false);
  }

  /** Ends every open watch now: cleanly (the client sees the stream end), or by resetting its connection. */
  cutWatches(options: { reset?: boolean } = {}): number {
    const open = [...this.streams];
    for (const s of open) s.cut(options.reset ?? false);
    return open.length;
  }

  /** Resets every client connection, as an apiserver restart would. */
  resetConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** How many requests are held unanswered now (stalled or partitioned). */
  get heldCount(): number {
    return this.held.size;
  }

  /** Stops listening, resets every connection and held request. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.release("reset");
    for (const s of this.streams) s.cut(true);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.https.close(() => resolve()));
    this.certAgent.destroy();
    this.tokenAgent.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private release(how: "forward" | "reset"): void {
    for (const h of [...this.held]) h.release(how);
  }

  private record(entry: ProxiedRequest): ProxiedRequest {
    this.requests.push(entry);
    const max = this.options.historySize ?? 20_000;
    if (this.requests.length > max) this.requests.splice(0, this.requests.length - max);
    return entry;
  }

  private match(req: IncomingMessage, info: RequestInfo): ActiveRule | undefined {
    for (const active of this.rules) {
      const r = active.rule;
      if (active.removed || (r.times !== undefined && active.hits >= r.times)) continue;
      if (!matches(r, req, info)) continue;
      if (r.probability !== undefined && randomInt(1_000_000) >= r.probability * 1_000_000) continue;
      active.hits++;
      return active;
    }
    return undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const info = requestInfo(req);
    const entry = this.record({
      at: Date.now(),
      method: req.method ?? "GET",
      path: info.path,
      verb: info.verb,
      resource: info.resource,
      userAgent: req.headers["user-agent"] ?? "",
      status: 0,
      forwarded: false,
    });
    // The body is read first, so that a held request can still be forwarded later.
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (this.partitioned) {
        entry.fault = "partition";
        return this.hold(req, res, entry, body);
      }
      const active = this.match(req, info);
      const action = active?.rule.action;
      if (!action) return this.forward(req, res, entry, body, {});
      entry.fault = describeAction(action);
      if ("delayMs" in action) {
        setTimeout(() => this.forward(req, res, entry, body, {}), action.delayMs).unref();
      } else if ("stall" in action) {
        this.hold(req, res, entry, body);
      } else if ("status" in action) {
        answer(res, entry, action);
      } else if ("reset" in action) {
        if (action.reset === "before") req.socket.destroy();
        else this.forward(req, res, entry, body, { resetAfter: true });
      } else if ("expire" in action) {
        if (info.verb === "watch") expireWatch(res, entry);
        else answer(res, entry, { status: 410, reason: "Expired", message: "too old resource version (injected)" });
      } else if ("dropAfterBytes" in action) {
        this.forward(req, res, entry, body, { dropAfterBytes: action.dropAfterBytes });
      } else {
        this.forward(req, res, entry, body, { cutAfterMs: action.cutAfterMs });
      }
    });
  }

  private hold(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, body: Buffer): void {
    const held: Held = {
      release: (how) => {
        if (!this.held.delete(held)) return;
        clearTimeout(timer);
        if (how === "forward" && !this.stopped) this.forward(req, res, entry, body, {});
        else req.socket.destroy();
      },
    };
    const timer = setTimeout(() => held.release("reset"), this.options.maxHoldMs ?? 300_000);
    timer.unref();
    this.held.add(held);
    // A client that gives up (its own timeout) frees the slot.
    res.once("close", () => {
      if (this.held.delete(held)) clearTimeout(timer);
    });
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    entry: ProxiedRequest,
    body: Buffer,
    how: { resetAfter?: boolean; dropAfterBytes?: number; cutAfterMs?: number },
  ): void {
    if (res.destroyed) return;
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !hopByHop.has(k)) headers[k] = v;
    }
    headers.host = this.upstream.host;
    if (body.length > 0) headers["content-length"] = body.length;
    const upstream = httpsRequest(
      {
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent: req.headers.authorization ? this.tokenAgent : this.certAgent,
      },
      (up) => {
        entry.forwarded = true;
        entry.answeredAt = Date.now();
        entry.status = up.statusCode ?? 0;
        if (how.resetAfter) {
          // The apiserver has answered: its effect is committed, and the client never hears of it.
          entry.status = 0;
          up.resume();
          up.once("end", () => req.socket.destroy());
          return;
        }
        const out: OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !hopByHop.has(k)) out[k] = v;
        res.writeHead(up.statusCode ?? 502, out);
        this.stream(up, req, res, how);
      },
    );
    upstream.once("error", () => {
      entry.status = 0;
      req.socket.destroy();
    });
    res.once("close", () => upstream.destroy());
    upstream.end(body);
  }

  /** Copies a response body, with pause (partition), cut and drop under the proxy's control. */
  private stream(
    up: IncomingMessage,
    req: IncomingMessage,
    res: ServerResponse,
    how: { dropAfterBytes?: number; cutAfterMs?: number },
  ): void {
    let sent = 0;
    let cutTimer: NodeJS.Timeout | undefined;
    const control = {
      cut: (reset: boolean) => {
        finish();
        up.destroy();
        if (reset) req.socket.destroy();
        else res.end();
      },
      paused: (on: boolean) => {
        if (on) up.pause();
        else up.resume();
      },
    };
    const finish = () => {
      clearTimeout(cutTimer);
      this.streams.delete(control);
    };
    this.streams.add(control);
    if (this.partitioned) up.pause();
    if (how.cutAfterMs !== undefined) cutTimer = setTimeout(() => control.cut(false), how.cutAfterMs);
    up.on("data", (chunk: Buffer) => {
      if (how.dropAfterBytes !== undefined && sent + chunk.length >= how.dropAfterBytes) {
        res.write(chunk.subarray(0, Math.max(0, how.dropAfterBytes - sent)));
        finish();
        up.destroy();
        // Written bytes leave before the reset only once they are flushed.
        res.once("finish", () => req.socket.destroy());
        setImmediate(() => req.socket.destroy());
        return;
      }
      sent += chunk.length;
      if (!res.write(chunk)) {
        up.pause();
        res.once("drain", () => {
          if (!this.partitioned) up.resume();
        });
      }
    });
    up.once("end", () => {
      finish();
      res.end();
    });
    up.once("error", () => {
      finish();
      req.socket.destroy();
    });
    res.once("close", () => {
      finish();
      up.destroy();
    });
  }
}

const hopByHop = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
  "host",
]);

interface RequestInfo {
  path: string;
  verb: KubeVerb | undefined;
  resource: string | undefined;
  subresource: string | undefined;
}

/** The verb, resource and subresource of an apiserver request, from its method and path (RBAC's rules). */
export function requestInfo(req: { method?: string | undefined; url?: string | undefined }): RequestInfo {
  const url = new URL(req.url ?? "/", "https://x");
  const path = url.pathname;
  const segs = path.split("/").filter(Boolean);
  let rest: string[] | undefined;
  if (segs[0] === "api" && segs.length >= 2) rest = segs.slice(2);
  else if (segs[0] === "apis" && segs.length >= 3) rest = segs.slice(3);
  if (!rest || rest.length === 0) return { path, verb: undefined, resource: undefined, subresource: undefined };
  if (rest[0] === "namespaces" && rest.length >= 3) rest = rest.slice(2);
  const [resource, name, subresource] = rest;
  const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
  const method = (req.method ?? "GET").toUpperCase();
  let verb: KubeVerb | undefined;
  if (method === "GET" || method === "HEAD") verb = watch ? "watch" : name ? "get" : "list";
  else if (method === "POST") verb = "create";
  else if (method === "PUT") verb = "update";
  else if (method === "PATCH") verb = "patch";
  else if (method === "DELETE") verb = name ? "delete" : "deletecollection";
  return { path, verb, resource, subresource };
}

function oneOf<T>(want: T | readonly T[] | undefined, have: T): boolean {
  if (want === undefined) return true;
  return Array.isArray(want) ? (want as readonly T[]).includes(have) : want === have;
}

function textMatches(want: string | RegExp | undefined, have: string): boolean {
  if (want === undefined) return true;
  return typeof want === "string" ? want === have : want.test(have);
}

function matches(m: FaultMatch, req: IncomingMessage, info: RequestInfo): boolean {
  if (m.verb !== undefined && (info.verb === undefined || !oneOf(m.verb, info.verb))) return false;
  if (!oneOf(m.method, (req.method ?? "GET").toUpperCase())) return false;
  if (!textMatches(m.path, info.path)) return false;
  if (m.resource !== undefined && m.resource !== info.resource) return false;
  if (m.subresource !== undefined && m.subresource !== info.subresource) return false;
  return textMatches(m.userAgent, req.headers["user-agent"] ?? "");
}

function describeAction(a: FaultAction): string {
  if ("delayMs" in a) return `delay ${a.delayMs}ms`;
  if ("stall" in a) return "stall";
  if ("status" in a) return `status ${a.status}`;
  if ("reset" in a) return `reset ${a.reset}`;
  if ("dropAfterBytes" in a) return `drop after ${a.dropAfterBytes} bytes`;
  if ("expire" in a) return "expire";
  return `cut after ${a.cutAfterMs}ms`;
}

const reasons: Record<number, string> = {
  409: "Conflict",
  410: "Expired",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

function answer(
  res: ServerResponse,
  entry: ProxiedRequest,
  a: { status: number; retryAfterSeconds?: number; reason?: string; message?: string },
): void {
  entry.status = a.status;
  const body = JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: a.message ?? `injected by the fault proxy (${a.status})`,
    reason: a.reason ?? reasons[a.status] ?? "",
    code: a.status,
    ...(a.retryAfterSeconds !== undefined ? { details: { retryAfterSeconds: a.retryAfterSeconds } } : {}),
  });
  res.writeHead(a.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...(a.retryAfterSeconds !== undefined ? { "retry-after": String(a.retryAfterSeconds) } : {}),
  });
  res.end(body);
}

function expireWatch(res: ServerResponse, entry: ProxiedRequest): void {
  entry.status = 200;
  const status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "too old resource version (injected by the fault proxy)",
    reason: "Expired",
    code: 410,
  };
  res.writeHead(200, { "content-type": "application/json" });
  res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
}
