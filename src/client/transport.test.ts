import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { test } from "node:test";
import type { ConnectionConfig } from "./config.ts";
import { Transport } from "./transport.ts";

/** A TCP server on 127.0.0.1 that accepts connections and never says a word (a TLS handshake that hangs). */
async function silentServer(t: { after: (fn: () => Promise<void>) => void }): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

function config(port: number): ConnectionConfig {
  return { server: `https://127.0.0.1:${port}`, tls: {}, authorization: async () => undefined, name: "silent" };
}

test("a connection whose TLS handshake never completes fails after connectTimeoutMs", async (t) => {
  const port = await silentServer(t);
  const transport = new Transport(config(port), { connectTimeoutMs: 200, requestTimeoutMs: 0 });
  t.after(() => transport.close());
  const started = performance.now();
  const outcome = await Promise.race([
    transport.json({ method: "GET", path: "/api/v1/namespaces" }).then(
      () => "answered",
      (err: NodeJS.ErrnoException) => err,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve("pending"), 3_000).unref()),
  ]);
  assert.ok(outcome instanceof Error, `failed, got ${String(outcome)}`);
  assert.equal(outcome.code, "ETIMEDOUT");
  assert.match(outcome.message, /GET \/api\/v1\/namespaces: could not connect within 200 ms/);
  assert.ok(performance.now() - started < 2_000);
});

test("the request timeout bounds an answer that never comes, with the verb and path in the error", async (t) => {
  const port = await silentServer(t);
  const transport = new Transport(config(port), { connectTimeoutMs: 0, requestTimeoutMs: 300 });
  t.after(() => transport.close());
  await assert.rejects(transport.json({ method: "POST", path: "/api/v1/namespaces", body: {} }), {
    name: "RequestTimeoutError",
    code: "ETIMEDOUT",
    message: "POST /api/v1/namespaces: no answer within 300 ms (request timeout)",
  });
});

test("a finished watch's connection is closed, not kept idle; an ordinary request's is kept for the next", async (t) => {
  const open = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url?.includes("watch=true")) {
      // A watch the server ends (its timeout): one event, then the end of the chunked body.
      res.write(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "a" } } })}\n`);
      res.end();
    } else res.end("{}");
  });
  server.on("connection", (s: Socket) => {
    open.add(s);
    s.on("close", () => open.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const transport = new Transport(
    { server: `http://127.0.0.1:${port}`, tls: {}, authorization: async () => undefined, name: "local" },
    { connectTimeoutMs: 0, requestTimeoutMs: 0 },
  );
  t.after(() => transport.close());

  await transport.json({ method: "GET", path: "/api/v1/namespaces" });
  const events: unknown[] = [];
  for await (const e of transport.lines({ path: "/api/v1/namespaces", query: { watch: true } })) events.push(e);
  assert.equal(events.length, 1);
  const deadline = Date.now() + 2_000;
  while (open.size > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(open.size, 1, "the request's connection stays open, the watch's is closed");
  await transport.json({ method: "GET", path: "/api/v1/namespaces" });
  assert.equal(open.size, 1, "and the next request reuses it");
});
