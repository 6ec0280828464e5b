/**
 * The fault-injecting proxy itself, against the real apiserver: each fault does what it says, and only to the
 * requests its rule matches, as many times as asked.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client } from "../../src/client/index.ts";
import { eventually, FaultProxy, requestInfo, testPlane } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
let proxy: FaultProxy;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "converge-fault-proxy-"));
  proxy = await FaultProxy.start({
    upstream: plane.credentials,
    kubeconfigPath: join(dir, "kubeconfig"),
    maxHoldMs: 20_000,
  });
});
after(async () => {
  await proxy.stop();
  await rm(dir, { recursive: true, force: true });
});

type Outcome = { status: number; body: string; ms: number } | { error: string; ms: number };

/** One request through the proxy on a connection of its own. */
function raw(
  method: string,
  path: string,
  options: { body?: unknown; timeoutMs?: number; onChunk?: (chunk: string) => void } = {},
): Promise<Outcome> {
  const started = Date.now();
  const url = new URL(proxy.server);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        method,
        path,
        ca: proxy.credentials.caCert,
        agent: false,
        headers: {
          accept: "application/json",
          "user-agent": "fault-proxy-test",
          ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
        },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
          options.onChunk?.(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, ms: Date.now() - started }));
        res.on("error", (err) => resolve({ error: err.message, ms: Date.now() - started }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", (err) => resolve({ error: err.message, ms: Date.now() - started }));
    req.end(body);
  });
}

const status = (o: Outcome) => ("status" in o ? o.status : `error: ${o.error}`);

async function exists(ns: string, name: string): Promise<boolean> {
  return (await plane.http.request("GET", `/api/v1/namespaces/${ns}/configmaps/${name}`)).status === 200;
}

test("requests pass through unchanged and are recorded with their Kubernetes verb", async (t) => {
  const ns = await plane.namespace(t);
  const created = await raw("POST", `/api/v1/namespaces/${ns}/configmaps`, {
    body: { metadata: { name: "through" }, data: { a: "1" } },
  });
  assert.equal(status(created), 201);
  const got = await raw("GET", `/api/v1/namespaces/${ns}/configmaps/through`);
  assert.equal(status(got), 200);
  assert.equal((JSON.parse((got as { body: string }).body) as { data: { a: string } }).data.a, "1");
  const mine = proxy.requests.filter((r) => r.path.includes(`/namespaces/${ns}/`));
  assert.deepEqual(
    mine.map((r) => [r.verb, r.resource, r.status, r.forwarded]),
    [
      ["create", "configmaps", 201, true],
      ["get", "configmaps", 200, true],
    ],
  );
  assert.deepEqual(
    ["GET /api/v1/namespaces", "GET /api/v1/namespaces/x", "GET /apis/apps/v1/deployments?watch=true"].map((s) => {
      const [method, url] = s.split(" ");
      return requestInfo({ method, url }).verb;
    }),
    ["list", "get", "watch"],
  );
});

test("canned statuses: 429 with Retry-After, only as many times as asked and only where matched", async (t) => {
  const ns = await plane.namespace(t);
  const rule = proxy.inject({
    verb: "list",
    resource: "configmaps",
    path: new RegExp(`/namespaces/${ns}/`),
    action: { status: 429, retryAfterSeconds: 3 },
    times: 2,
  });
  const list = `/api/v1/namespaces/${ns}/configmaps`;
  const first = await raw("GET", list);
  assert.equal(status(first), 429);
  assert.match((first as { body: string }).body, /"retryAfterSeconds":3/);
  assert.equal(status(await raw("GET", `/api/v1/namespaces/${ns}/secrets`)), 200, "other resources pass");
  assert.equal(status(await raw("GET", list)), 429);
  assert.equal(status(await raw("GET", list)), 200, "the third request passes: times: 2");
  assert.equal(rule.hits, 2);
  rule.remove();
});

test("resets: before forwarding nothing happened; after forwarding the write is committed", async (t) => {
  const ns = await plane.namespace(t);
  const post = (name: string) => raw("POST", `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name } } });
  const before = proxy.inject({
    verb: "create",
    path: new RegExp(`/namespaces/${ns}/`),
    action: { reset: "before" },
    times: 1,
  });
  assert.ok("error" in (await post("never")));
  assert.equal(await exists(ns, "never"), false, "the apiserver never saw it");
  assert.equal(before.hits, 1);
  proxy.inject({ verb: "create", path: new RegExp(`/namespaces/${ns}/`), action: { reset: "after" }, times: 1 });
  assert.ok("error" in (await post("committed")));
  assert.equal(await exists(ns, "committed"), true, "the apiserver committed it; the client got a reset");
  const entry = proxy.requests.findLast((r) => r.path.endsWith(`/namespaces/${ns}/configmaps`));
  assert.equal(entry?.forwarded, true);
  assert.equal(entry?.status, 0);
});

test("a body dropped mid-way, and a delay", async (t) => {
  const ns = await plane.namespace(t);
  assert.equal(
    status(
      await raw("POST", `/api/v1/namespaces/${ns}/configmaps`, {
        body: { metadata: { name: "big" }, data: { x: "y".repeat(20_000) } },
      }),
    ),
    201,
  );
  proxy.inject({
    verb: "get",
    path: new RegExp(`/namespaces/${ns}/configmaps/big`),
    action: { dropAfterBytes: 100 },
    times: 1,
  });
  const dropped = await raw("GET", `/api/v1/namespaces/${ns}/configmaps/big`);
  assert.ok("error" in dropped || dropped.body.length < 20_000, "the body did not arrive whole");
  proxy.inject({
    verb: "get",
    path: new RegExp(`/namespaces/${ns}/configmaps/big`),
    action: { delayMs: 700 },
    times: 1,
  });
  const slow = await raw("GET", `/api/v1/namespaces/${ns}/configmaps/big`);
  assert.equal(status(slow), 200);
  assert.ok(slow.ms >= 650, `delayed (${slow.ms} ms)`);
});

test("a stall holds the request unanswered until the client gives up; heal forwards held requests late", async (t) => {
  const ns = await plane.namespace(t);
  const stall = proxy.inject({
    verb: "get",
    path: new RegExp(`/namespaces/${ns}/`),
    action: { stall: true },
    times: 1,
  });
  const stalled = await raw("GET", `/api/v1/namespaces/${ns}/configmaps/x`, { timeoutMs: 800 });
  assert.ok("error" in stalled && stalled.ms >= 750, `the client timed out (${JSON.stringify(stalled)})`);
  assert.equal(stall.hits, 1);
  await eventually("the held slot to be freed once the client gave up", () => proxy.heldCount === 0, 5_000);

  proxy.partition();
  const during = raw("POST", `/api/v1/namespaces/${ns}/configmaps`, {
    body: { metadata: { name: "late" } },
    timeoutMs: 15_000,
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(proxy.heldCount, 1);
  assert.equal(await exists(ns, "late"), false, "nothing reaches the apiserver during a partition");
  proxy.heal({ held: "forward" });
  assert.equal(status(await during), 201);
  assert.equal(await exists(ns, "late"), true);

  proxy.partition();
  const reset = raw("GET", `/api/v1/namespaces/${ns}/configmaps/late`, { timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, 300));
  proxy.heal();
  assert.ok("error" in (await reset), "held requests are reset by default when the partition heals");
});

test("watches: cut after a time, cut on demand, frozen by a partition, and expired with a 410 event", async (t) => {
  const ns = await plane.namespace(t);
  const watch = `/api/v1/namespaces/${ns}/configmaps?watch=true&timeoutSeconds=60`;
  proxy.inject({ verb: "watch", path: new RegExp(`/namespaces/${ns}/`), action: { cutAfterMs: 500 }, times: 1 });
  const cut = await raw("GET", watch, { timeoutMs: 20_000 });
  assert.equal(status(cut), 200);
  assert.ok(cut.ms >= 450 && cut.ms < 5_000, `ended after ${cut.ms} ms`);

  const events: string[] = [];
  const open = raw("GET", watch, { timeoutMs: 30_000, onChunk: (c) => events.push(c) });
  await new Promise((r) => setTimeout(r, 300));
  proxy.partition();
  await raw("POST", `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name: "unseen" } }, timeoutMs: 500 });
  await plane.http.expectOk("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "while-frozen" } });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(events.join("").includes("while-frozen"), false, "a partitioned watch delivers nothing");
  proxy.heal();
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(events.join("").includes("while-frozen"), "and delivers what it held once healed");
  assert.ok(proxy.cutWatches() >= 1);
  assert.equal(status(await open), 200);

  proxy.inject({ verb: "watch", path: new RegExp(`/namespaces/${ns}/`), action: { expire: true }, times: 1 });
  const expired = await raw("GET", watch);
  assert.equal(status(expired), 200);
  assert.match((expired as { body: string }).body, /"type":"ERROR".*"code":410/);
});

test("a Client connects through the proxy's kubeconfig", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, fieldManager: "fault-proxy-test" });
  t.after(() => client.close());
  await client.create(corev1.ConfigMap, { metadata: { name: "via-client", namespace: ns } });
  assert.equal((await client.list(corev1.ConfigMap, { namespace: ns })).items.length >= 1, true);
  assert.ok(proxy.requests.some((r) => r.verb === "create" && r.path.includes(ns) && r.userAgent.includes("converge")));
});
