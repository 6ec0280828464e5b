import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { Agent, request as httpsRequest } from "node:https";

/** Where a cluster is and how to authenticate: client certificate or bearer token (PEM strings, not paths). */
export interface ClusterCredentials {
  server: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  token?: string;
  insecureSkipTlsVerify?: boolean;
}

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
}

/**
 * A deliberately small HTTPS+JSON client: the control plane uses it to wait for health, register the fake node
 * and install the default StorageClass, and the substrate tests use it to talk to the apiserver without pulling
 * in the higher client layer. One keep-alive agent per plane.
 */
export class PlaneHttp {
  readonly server: string;
  private readonly agent: Agent;
  private readonly authorization: string | undefined;

  constructor(credentials: ClusterCredentials) {
    this.server = credentials.server;
    this.authorization = credentials.token ? `Bearer ${credentials.token}` : undefined;
    this.agent = new Agent({
      keepAlive: true,
      ...(credentials.caCert ? { ca: credentials.caCert } : {}),
      ...(credentials.clientCert ? { cert: credentials.clientCert } : {}),
      ...(credentials.clientKey ? { key: credentials.clientKey } : {}),
      rejectUnauthorized: !credentials.insecureSkipTlsVerify,
    });
  }

  /** Sends a request and parses the JSON answer (non-JSON bodies come back as text). Never throws on status. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { contentType?: string; timeoutMs?: number } = {},
  ): Promise<JsonResponse<T>> {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const res = await this.open(method, path, payload, options);
    const text = await readBody(res);
    let parsed: unknown = text;
    if ((res.headers["content-type"] ?? "").includes("json") && text) parsed = JSON.parse(text);
    return { status: res.statusCode ?? 0, body: parsed as T };
  }

  /** Like request(), but throws with the apiserver's message unless the status is 2xx. */
  async expectOk<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const res = await this.request<T>(method, path, body, contentType ? { contentType } : {});
    if (res.status < 200 || res.status > 299) {
      const msg = (res.body as { message?: string } | undefined)?.message ?? JSON.stringify(res.body);
      throw new Error(`${method} ${path}: HTTP ${res.status}: ${msg}`);
    }
    return res.body;
  }

  /** A GET of a binary body (a pprof profile), returned as it came. Never throws on status. */
  async bytes(path: string, options: { timeoutMs?: number } = {}): Promise<{ status: number; body: Buffer }> {
    const res = await this.open("GET", path, undefined, options);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return { status: res.statusCode ?? 0, body: Buffer.concat(chunks) };
  }

  /**
   * Opens a watch (or any streaming GET) and calls `onEvent` for every JSON line. Returns a function that
   * closes the stream.
   */
  async stream(path: string, onEvent: (event: unknown) => void, onEnd?: (err?: Error) => void): Promise<() => void> {
    const res = await this.open("GET", path, undefined, {});
    if ((res.statusCode ?? 0) >= 300) {
      const text = await readBody(res);
      throw new Error(`GET ${path}: HTTP ${res.statusCode}: ${text}`);
    }
    let buffered = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) onEvent(JSON.parse(line));
        nl = buffered.indexOf("\n");
      }
    });
    res.on("end", () => onEnd?.());
    res.on("error", (err) => onEnd?.(err));
    return () => res.destroy();
  }

  close(): void {
    this.agent.destroy();
  }

  private open(
    method: string,
    path: string,
    payload: string | undefined,
    options: { contentType?: string; timeoutMs?: number },
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const url = new URL(path, this.server);
      const req = httpsRequest(url, {
        method,
        agent: this.agent,
        headers: {
          accept: "application/json",
          ...(this.authorization ? { authorization: this.authorization } : {}),
          ...(payload !== undefined
            ? {
                "content-type": options.contentType ?? "application/json",
                "content-length": Buffer.byteLength(payload),
              }
            : {}),
        },
      });
      if (options.timeoutMs)
        req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`timeout after ${options.timeoutMs} ms`)));
      req.on("response", resolve);
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (c: string) => {
      text += c;
    });
    res.on("end", () => resolve(text));
    res.on("error", reject);
  });
}

/**
 * A GET for health endpoints of other components: plain HTTP (etcd, kwok) or HTTPS without verification
 * (kube-controller-manager and kube-scheduler serve self-signed certificates on their secure ports). Resolves
 * to the status code, or 0 when nothing answered.
 */
export function probe(url: string, timeoutMs = 2_000): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const opts = {
      method: "GET",
      timeout: timeoutMs,
      ...(u.protocol === "https:" ? { rejectUnauthorized: false } : {}),
    };
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, opts, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}
