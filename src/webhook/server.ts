/**
 * The webhook server: HTTPS only (TLS 1.2+), admission webhooks on their paths and conversions on `/convert`,
 * controller-runtime's metric names, a body size limit, a time limit for slow clients and slow handlers, and a
 * clear 4xx for anything that is not a review it can answer. A new certificate is taken by new connections at
 * once (`setSecureContext`) while open ones finish on the old: a rotation drops no request.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { AdmissionWebhook } from "./admission.ts";
import type { CertificateProvider, ServingCertificate } from "./certs.ts";
import { type Conversion, convertReview } from "./conversion.ts";
import {
  admissionReview,
  BadReviewError,
  conversionReview,
  readAdmissionReview,
  readConversionReview,
} from "./review.ts";

export interface WebhookServerOptions {
  /** Host to listen on (default: all interfaces; `127.0.0.1` for local runs). */
  host?: string;
  /** Port (default 9443, controller-runtime's; 0 for any free port). */
  port?: number;
  certificates: CertificateProvider;
  /** Requests with a larger body get 413 (default 7 MiB, as controller-runtime: objects are at most ~1.5 MiB). */
  maxBodyBytes?: number;
  /** A request not received and answered within this time gets 408/500 (default 10 s; the apiserver waits ≤ 30 s). */
  requestTimeoutMs?: number;
  /** Where the webhook metrics are registered (the manager's registry); none when unset. */
  registry?: Registry;
  /** Reports a handler or server error that was answered with 500. */
  onError?: (err: unknown, path: string) => void;
}

export const conversionPath = "/convert";

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface WebhookMetrics {
  total: Counter<"webhook" | "code">;
  latency: Histogram<"webhook">;
  inFlight: Gauge<"webhook">;
}

/** Serves admission webhooks and conversions over HTTPS. */
export class WebhookServer {
  private readonly admission = new Map<string, AdmissionWebhook>();
  private readonly conversions: Conversion[] = [];
  private readonly options: WebhookServerOptions;
  private readonly metrics: WebhookMetrics | undefined;
  private server: Server | undefined;

  constructor(options: WebhookServerOptions) {
    this.options = options;
    const registers = options.registry ? [options.registry] : undefined;
    this.metrics = registers && {
      total: new Counter({
        name: "controller_runtime_webhook_requests_total",
        help: "Total number of admission requests by HTTP status code.",
        labelNames: ["webhook", "code"],
        registers,
      }),
      latency: new Histogram({
        name: "controller_runtime_webhook_latency_seconds",
        help: "Histogram of the latency of processing admission requests",
        labelNames: ["webhook"],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
      inFlight: new Gauge({
        name: "controller_runtime_webhook_requests_in_flight",
        help: "Current number of admission requests being served.",
        labelNames: ["webhook"],
        registers,
      }),
    };
  }

  /** Adds an admission webhook (before or after start). */
  addWebhook(webhook: AdmissionWebhook): this {
    if (this.admission.has(webhook.path)) throw new Error(`two webhooks on path ${webhook.path}`);
    this.admission.set(webhook.path, webhook);
    return this;
  }

  /** Adds the conversion of one custom resource, served on `/convert`. */
  addConversion(conversion: Conversion): this {
    if (this.conversions.some((c) => c.group === conversion.group && c.kind === conversion.kind))
      throw new Error(`two conversions for ${conversion.kind}.${conversion.group}`);
    this.conversions.push(conversion);
    return this;
  }

  get webhooks(): readonly AdmissionWebhook[] {
    return [...this.admission.values()];
  }

  get hasConversions(): boolean {
    return this.conversions.length > 0;
  }

  /** The listening port (after start). */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Starts listening; resolves with the port. The certificate provider is started here. */
  async start(): Promise<number> {
    const cert = await this.options.certificates.start();
    const timeout = this.options.requestTimeoutMs ?? 10_000;
    const server = createServer(
      {
        ...tlsOptions(cert),
        requestTimeout: timeout,
        headersTimeout: timeout,
        // Node checks those timeouts every 30 s by default: too coarse to turn a slow client away in time.
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, timeout / 4)),
      },
      (req, res) => this.handle(req, res),
    );
    server.keepAliveTimeout = 30_000;
    this.options.certificates.onChange((c) => server.setSecureContext(tlsOptions(c)));
    // A client that never finishes its TLS handshake must not hold a socket for ever.
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(
        { port: this.options.port ?? 9443, ...(this.options.host ? { host: this.options.host } : {}) },
        () => {
          server.off("error", reject);
          resolve();
        },
      );
    });
    this.server = server;
    return this.port;
  }

  /** Stops accepting connections and waits for open requests to finish (up to `timeoutMs`, default 5 s). */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.options.certificates.stop();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    await closed;
    clearTimeout(timer);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const webhook = this.admission.get(path);
    const isConversion = path === conversionPath && this.conversions.length > 0;
    const label = webhook || isConversion ? path : "unknown";
    const started = process.hrtime.bigint();
    this.metrics?.inFlight.inc({ webhook: label });
    const finish = (status: number, body: unknown) => {
      if (!res.headersSent) {
        const text = typeof body === "string" ? `${body}\n` : JSON.stringify(body);
        res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
        res.end(text);
      }
      this.metrics?.inFlight.dec({ webhook: label });
      this.metrics?.total.inc({ webhook: label, code: String(status) });
      this.metrics?.latency.observe({ webhook: label }, Number(process.hrtime.bigint() - started) / 1e9);
    };
    (async () => {
      if (!webhook && !isConversion) throw new HttpError(404, `no webhook at ${path}`);
      if (req.method !== "POST") throw new HttpError(405, `${req.method} not allowed: POST a review`);
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim();
      if (type !== "application/json")
        throw new HttpError(415, `content-type ${type || "(none)"}: expected application/json`);
      const body = await readJson(req, this.options.maxBodyBytes ?? 7 * 1024 * 1024);
      if (webhook) return admissionReview(await withTimeout(webhook.review(readAdmissionReview(body)), this.timeout));
      return conversionReview(convertReview(this.conversions, readConversionReview(body)));
    })().then(
      (review) => finish(200, review),
      (err: unknown) => {
        if (err instanceof HttpError) return finish(err.status, err.message);
        if (err instanceof BadReviewError) return finish(400, `bad review: ${err.message}`);
        this.options.onError?.(err, path);
        finish(500, `webhook error: ${(err as Error).message}`);
      },
    );
  }

  private get timeout(): number {
    return this.options.requestTimeoutMs ?? 10_000;
  }
}

function tlsOptions(c: ServingCertificate) {
  return { cert: c.cert, key: c.key, minVersion: "TLSv1.2" as const };
}

/** Reads a JSON body of at most `limit` bytes; 413 beyond it (without reading the rest), 400 if it is not JSON. */
function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit)
    return Promise.reject(new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new HttpError(413, `body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (err) {
        reject(new HttpError(400, `body is not JSON: ${(err as Error).message}`));
      }
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the handler did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
