import assert from "node:assert/strict";
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
