import { isIP, connect as netConnect, type Socket } from "node:net";
import { type SecureContext, connect as tlsConnect } from "node:tls";

/**
 * A small HTTP/1.1 client for one apiserver: keep-alive connections in a pool, a request written as one buffer,
 * and a response parser that knows the three bodies an apiserver sends (Content-Length, chunked, or until close).
 *
 * Written by hand because node:http's generality costs more than the request: measured against the apiserver on
 * one core, a GET+PUT pair of a ConfigMap takes 0.58 ms of CPU through node:https (events, streams and header
 * validation per message, llhttp through the C++ boundary, an abort listener per request) and 0.40 ms on plain TLS
 * sockets with this parser, one pair in flight (0.31 ms with four; bench/micro/transport.ts) — and an operator's CPU per object is mostly its requests. What it leaves out is what an
 * apiserver does not use: no 1xx handling beyond skipping them, no trailers, no content encodings (none is asked
 * for), no upgrades.
 */

export interface Http1Target {
  host: string;
  port: number;
  /** TLS when set. */
  tls?: { secureContext: SecureContext; servername?: string; rejectUnauthorized: boolean };
}

export interface Http1PoolOptions {
  /** Connections at most (default: no limit); requests beyond wait for a connection in order. */
  maxConnections?: number;
  /** A new connection must connect (TCP and TLS) within this (0: no limit). */
  connectTimeoutMs: number;
  /**
   * Whether a connection that finished its response is kept for the next request (default true). Watches open a
   * new connection each (a stale kept-alive one would fail a stream that cannot be sent again): theirs are closed.
   */
  reuse?: boolean;
}

/** A response head: status and headers, names in lower case (repeated headers joined with ", "). */
export interface Http1Head {
  status: number;
  headers: Record<string, string>;
}

/** Something a request's deadline or abort can end. */
export interface Cancellable {
  destroy(err: Error): void;
}

/** Options of one request. */
export interface Http1RequestOptions {
  signal?: AbortSignal | undefined;
  /** Called with a handle on the request, so that a deadline can end it. */
  track?: (request: Cancellable) => void;
  /** GET and HEAD: sent again once on a new connection when a kept-alive one turns out to be closed. */
  idempotent: boolean;
}

/** A whole response. */
export interface Http1Response extends Http1Head {
  body: Buffer;
}

/** A streamed response (a watch): its head, and its body as it arrives, with backpressure. */
export interface Http1Stream extends Http1Head {
  body: AsyncIterable<Buffer>;
  /** Whether the body was read to its end (a stream left early is closed, not reused). */
  readonly complete: boolean;
  /** Closes the connection (a consumer that stops early). */
  close(): void;
}

const CRLF = 0x0d0a;
const maxHeadBytes = 64 * 1024;
/** Chunks a streamed body may hold unread before the connection is paused. */
const streamHighWater = 16;

function resetError(message: string): Error {
  return Object.assign(new Error(message), { code: "ECONNRESET" });
}

type BodyMode = { kind: "length"; left: number } | { kind: "chunked" } | { kind: "close" } | { kind: "none" };

/**
 * One connection and its parser. A response is delivered through the current exchange's callbacks: `head` once,
 * `data` per body piece, then `end` (or `fail`).
 */
interface Exchange {
  head(head: Http1Head): void;
  data(chunk: Buffer): void;
  end(): void;
  fail(err: Error): void;
}

class Connection {
  readonly socket: Socket;
  /** Requests answered on it so far: a reused connection may turn out to have been closed by the server. */
  answered = 0;
  connected = false;
  closed = false;
  private buffer: Buffer | undefined;
  private exchange: Exchange | undefined;
  private mode: BodyMode | undefined;
  private chunkLeft = -1;
  private keepAlive = true;
  private readonly onClose: (c: Connection) => void;

  constructor(target: Http1Target, connectTimeoutMs: number, describe: () => string, onClose: (c: Connection) => void) {
    this.onClose = onClose;
    const tls = target.tls;
    this.socket = tls
      ? tlsConnect({
          host: target.host,
          port: target.port,
          secureContext: tls.secureContext,
          rejectUnauthorized: tls.rejectUnauthorized,
          // SNI names a host, never an address (RFC 6066); the certificate is checked against the address then.
          ...(tls.servername ? { servername: tls.servername } : isIP(target.host) ? {} : { servername: target.host }),
        })
      : netConnect({ host: target.host, port: target.port });
    this.socket.setNoDelay(true);
    const ready = tls ? "secureConnect" : "connect";
    if (connectTimeoutMs > 0) {
      const timer = setTimeout(() => {
        const err = Object.assign(new Error(`${describe()}: could not connect within ${connectTimeoutMs} ms`), {
          code: "ETIMEDOUT",
        });
        this.destroy(err);
      }, connectTimeoutMs);
      timer.unref();
      this.socket.once(ready, () => clearTimeout(timer));
      this.socket.once("close", () => clearTimeout(timer));
    }
    this.socket.once(ready, () => {
      this.connected = true;
    });
    this.socket.on("data", (d: Buffer) => this.receive(d));
    this.socket.on("error", (err) => this.destroy(err));
    this.socket.on("end", () => {
      if (this.mode?.kind !== "close") {
        this.destroy(resetError("the connection was closed by the server"));
        return;
      }
      // A body that runs until the server closes: complete now, and the connection is done.
      this.keepAlive = false;
      this.finish();
    });
    this.socket.on("close", () => this.destroy(resetError("the connection was closed")));
  }

  get busy(): boolean {
    return this.exchange !== undefined;
  }

  /** Sends a request on this connection (it must be idle). */
  send(bytes: Buffer | string, exchange: Exchange): void {
    this.exchange = exchange;
    this.mode = undefined;
    this.socket.ref();
    this.socket.write(bytes);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    const exchange = this.exchange;
    this.exchange = undefined;
    this.socket.destroy();
    exchange?.fail(err);
    this.onClose(this);
  }

  private receive(data: Buffer): void {
    if (!this.exchange) {
      // Bytes nobody asked for: the connection is out of step; it cannot be reused.
      this.destroy(resetError("unexpected data from the server"));
      return;
    }
    this.buffer = this.buffer ? Buffer.concat([this.buffer, data]) : data;
    try {
      this.parse();
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private parse(): void {
    for (;;) {
      const buf = this.buffer;
      if (!buf || buf.length === 0 || !this.exchange) return;
      if (this.mode === undefined) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) {
          if (buf.length > maxHeadBytes) throw new Error("the response head is too large");
          return;
        }
        const head = parseHead(buf.toString("latin1", 0, end));
        this.buffer = buf.length > end + 4 ? buf.subarray(end + 4) : undefined;
        if (head.status >= 100 && head.status < 200) continue; // 100 Continue and the like: the answer follows
        this.keepAlive = (head.headers.connection ?? "").toLowerCase() !== "close";
        const te = head.headers["transfer-encoding"];
        const length = head.headers["content-length"];
        if (te?.toLowerCase().includes("chunked")) this.mode = { kind: "chunked" };
        else if (length !== undefined) this.mode = { kind: "length", left: Number(length) };
        else if (head.status === 204 || head.status === 304) this.mode = { kind: "none" };
        else this.mode = { kind: "close" };
        this.chunkLeft = -1;
        this.exchange.head(head);
        if (this.mode.kind === "none" || (this.mode.kind === "length" && this.mode.left === 0)) {
          this.finish();
        }
        continue;
      }
      if (this.mode.kind === "length") {
        const take = Math.min(this.mode.left, buf.length);
        this.exchange.data(take === buf.length ? buf : buf.subarray(0, take));
        this.mode.left -= take;
        this.buffer = take === buf.length ? undefined : buf.subarray(take);
        if (this.mode.left === 0) this.finish();
        continue;
      }
      if (this.mode.kind === "close") {
        this.exchange.data(buf);
        this.buffer = undefined;
        return;
      }
      if (this.mode.kind === "none") throw new Error("a body where none was expected");
      // Chunked: a size line, the data, CRLF; size 0 ends the body (trailers are not sent by the apiserver).
      if (this.chunkLeft < 0) {
        const nl = buf.indexOf("\r\n");
        if (nl < 0) {
          if (buf.length > 1024) throw new Error("a chunk size line is too long");
          return;
        }
        const size = Number.parseInt(buf.toString("latin1", 0, nl), 16);
        if (!Number.isFinite(size) || size < 0) throw new Error("a malformed chunk size");
        if (size === 0) {
          // The last chunk, then an empty trailer line.
          if (buf.length < nl + 4) return;
          this.buffer = buf.length > nl + 4 ? buf.subarray(nl + 4) : undefined;
          this.finish();
          continue;
        }
        this.chunkLeft = size;
        this.buffer = buf.subarray(nl + 2);
        continue;
      }
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, buf.length);
        this.exchange.data(take === buf.length ? buf : buf.subarray(0, take));
        this.chunkLeft -= take;
        this.buffer = take === buf.length ? undefined : buf.subarray(take);
        continue;
      }
      // The CRLF after a chunk's data.
      if (buf.length < 2) return;
      if (buf.readUInt16BE(0) !== CRLF) throw new Error("a chunk is not followed by CRLF");
      this.chunkLeft = -1;
      this.buffer = buf.length > 2 ? buf.subarray(2) : undefined;
    }
  }

  private finish(): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.mode = undefined;
    this.answered++;
    if (!this.keepAlive || this.buffer?.length) {
      // The server will close it, or sent more than was asked for: not reusable.
      exchange?.end();
      this.destroy(resetError("the connection was not kept alive"));
      return;
    }
    this.socket.unref();
    exchange?.end();
    this.onClose(this);
  }
}

function parseHead(text: string): Http1Head {
  const lines = text.split("\r\n");
  const statusLine = lines[0] ?? "";
  if (!statusLine.startsWith("HTTP/1.")) throw new Error(`not an HTTP/1 response: ${statusLine.slice(0, 40)}`);
  const status = Number(statusLine.slice(9, 12));
  if (!Number.isInteger(status)) throw new Error(`a malformed status line: ${statusLine.slice(0, 40)}`);
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status, headers };
}

/** A request's bytes: the request line, the headers, and the body, in one write. */
export function requestBytes(
  method: string,
  path: string,
  host: string,
  headers: Record<string, string>,
  body: string | undefined,
): string {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  return body === undefined ? `${head}\r\n` : `${head}\r\n${body}`;
}

/** Connections to one server, reused while kept alive. */
export class Http1Pool {
  private readonly target: Http1Target;
  private readonly options: Http1PoolOptions;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Array<{ take: (c: Connection | undefined) => void; describe: () => string }> = [];
  private closed = false;

  constructor(target: Http1Target, options: Http1PoolOptions) {
    this.target = target;
    this.options = options;
  }

  /** Sends a request and reads the whole response. */
  async request(method: string, path: string, bytes: string, options: Http1RequestOptions): Promise<Http1Response> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.acquire(() => `${method} ${path}`, attempt > 0);
      const reused = connection.answered > 0;
      try {
        return await this.exchangeWhole(connection, bytes, options);
      } catch (err) {
        // A kept-alive connection the server closed while idle fails the same way as one reset after the server
        // read the request: only a read is sent again, once, on a new connection.
        const code = (err as NodeJS.ErrnoException).code;
        const stale = reused && (code === "ECONNRESET" || code === "EPIPE");
        if (options.idempotent && stale && attempt === 0 && !options.signal?.aborted) continue;
        throw err;
      }
    }
  }

  /** Sends a request and returns once the response head is in; the body streams (a watch). */
  async stream(method: string, path: string, bytes: string, options: Http1RequestOptions): Promise<Http1Stream> {
    const connection = await this.acquire(() => `${method} ${path}`, true);
    return new Promise<Http1Stream>((resolve, reject) => {
      const queue: Buffer[] = [];
      let done = false;
      let failure: Error | undefined;
      let wake: (() => void) | undefined;
      let headSeen = false;
      let paused = false;
      const notify = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const onAbort = () => connection.destroy(abortError(options.signal));
      const exchange: Exchange = {
        head: (head) => {
          headSeen = true;
          let complete = false;
          resolve({
            ...head,
            get complete() {
              return complete;
            },
            close: () => {
              if (!done) connection.destroy(resetError("the stream was closed"));
            },
            body: {
              [Symbol.asyncIterator]: async function* () {
                for (;;) {
                  const next = queue.shift();
                  if (next) {
                    if (paused && queue.length < streamHighWater / 2) {
                      paused = false;
                      connection.resume();
                    }
                    yield next;
                    continue;
                  }
                  if (failure) throw failure;
                  if (done) {
                    complete = true;
                    return;
                  }
                  await new Promise<void>((r) => {
                    wake = r;
                  });
                }
              },
            },
          });
        },
        data: (chunk) => {
          queue.push(chunk);
          if (!paused && queue.length >= streamHighWater) {
            paused = true;
            connection.pause();
          }
          notify();
        },
        end: () => {
          done = true;
          options.signal?.removeEventListener("abort", onAbort);
          notify();
        },
        fail: (err) => {
          options.signal?.removeEventListener("abort", onAbort);
          if (!headSeen) reject(err);
          failure = err;
          notify();
        },
      };
      start(connection, bytes, exchange, options, onAbort, reject);
    });
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    this.closed = true;
    for (const c of [...this.all]) c.destroy(resetError("the client was closed"));
    for (const w of this.waiting.splice(0)) w.take(undefined);
  }

  private exchangeWhole(connection: Connection, bytes: string, options: Http1RequestOptions): Promise<Http1Response> {
    return new Promise<Http1Response>((resolve, reject) => {
      let head: Http1Head | undefined;
      const chunks: Buffer[] = [];
      let length = 0;
      const onAbort = () => connection.destroy(abortError(options.signal));
      const exchange: Exchange = {
        head: (h) => {
          head = h;
        },
        data: (chunk) => {
          chunks.push(chunk);
          length += chunk.length;
        },
        end: () => {
          options.signal?.removeEventListener("abort", onAbort);
          const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
          resolve({ ...(head as Http1Head), body });
        },
        fail: (err) => {
          options.signal?.removeEventListener("abort", onAbort);
          reject(head ? resetError("the response was cut short") : err);
        },
      };
      start(connection, bytes, exchange, options, onAbort, reject);
    });
  }

  /** An idle connection, a new one, or the next one freed (in order). `fresh` asks for a new connection. */
  private acquire(describe: () => string, fresh: boolean): Promise<Connection> {
    if (this.closed) return Promise.reject(resetError("the client was closed"));
    if (!fresh) {
      while (this.idle.length > 0) {
        const c = this.idle.pop() as Connection;
        if (!c.closed && !c.busy) return Promise.resolve(c);
      }
    }
    const max = this.options.maxConnections ?? Number.POSITIVE_INFINITY;
    if (this.all.size < max) return Promise.resolve(this.open(describe));
    return new Promise<Connection>((resolve, reject) => {
      this.waiting.push({
        describe,
        take: (c) => (c ? resolve(c) : reject(resetError("the client was closed"))),
      });
    });
  }

  private open(describe: () => string): Connection {
    const c = new Connection(this.target, this.options.connectTimeoutMs, describe, (x) => this.released(x));
    this.all.add(c);
    return c;
  }

  /** A connection finished a response (reusable) or closed. */
  private released(c: Connection): void {
    if (c.closed) {
      this.all.delete(c);
      const i = this.idle.indexOf(c);
      if (i >= 0) this.idle.splice(i, 1);
      // A slot is free: a waiting request gets a new connection.
      const next = this.waiting.shift();
      if (next) next.take(this.open(next.describe));
      return;
    }
    if (this.options.reuse === false) {
      c.destroy(resetError("the connection is not reused"));
      return;
    }
    const next = this.waiting.shift();
    if (next) next.take(c);
    else this.idle.push(c);
  }
}

/** Sends an exchange's request, unless its signal is already aborted; an abort later ends the connection. */
function start(
  connection: Connection,
  bytes: string,
  exchange: Exchange,
  options: Http1RequestOptions,
  onAbort: () => void,
  reject: (err: Error) => void,
): void {
  if (options.signal?.aborted) {
    connection.destroy(abortError(options.signal));
    reject(abortError(options.signal));
    return;
  }
  options.signal?.addEventListener("abort", onAbort, { once: true });
  options.track?.(connection);
  connection.send(bytes, exchange);
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return Object.assign(new Error("the request was aborted"), { name: "AbortError", code: "ABORT_ERR" });
}
