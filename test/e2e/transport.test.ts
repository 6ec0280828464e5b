/**
 * The client transport and the informers under network faults, on the real apiserver through a FaultProxy:
 * which requests are retried after a reset, timeouts on hung requests and watches, throttling, and credentials
 * refreshed on a watch.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Informer } from "../../src/cache/index.ts";
import { Client, loadConnection, RequestTimeoutError, Transport } from "../../src/client/index.ts";
import { Manager } from "../../src/manager/index.ts";
import { WorkQueue } from "../../src/queue/index.ts";
import { eventually, FaultProxy, testPlane } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
let proxy: FaultProxy;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "converge-transport-"));
  proxy = await FaultProxy.start({
    upstream: plane.credentials,
    kubeconfigPath: join(dir, "kubeconfig"),
    maxHoldMs: 30_000,
  });
});
after(async () => {
  await proxy.stop();
  await rm(dir, { recursive: true, force: true });
});

async function configMaps(ns: string): Promise<string[]> {
  const res = await plane.http.request("GET", `/api/v1/namespaces/${ns}/configmaps`);
  const list = res.body as { items: Array<{ metadata: { name: string } }> };
  return list.items.map((i) => i.metadata.name).filter((n) => n !== "kube-root-ca.crt");
}

test("a create reset after the apiserver committed it is not sent again", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, fieldManager: "transport-test" });
  t.after(() => client.close());
  // A read first, so that the create goes out on a kept-alive connection: the case the old retry covered.
  await client.list(corev1.ConfigMap, { namespace: ns });
  const reset = proxy.inject({
    verb: "create",
    path: new RegExp(`/namespaces/${ns}/configmaps$`),
    action: { reset: "after" },
    times: 1,
  });
  await assert.rejects(
    client.create(corev1.ConfigMap, { metadata: { generateName: "once-", namespace: ns } }),
    (err: NodeJS.ErrnoException) => err.code === "ECONNRESET",
  );
  assert.equal(reset.hits, 1);
  const creates = proxy.requests.filter((r) => r.verb === "create" && r.path.includes(`/namespaces/${ns}/`));
  assert.equal(creates.length, 1, "the create went out once");
  assert.deepEqual((await configMaps(ns)).length, 1, "exactly one object was created");
});

test("a read reset on a kept-alive connection is retried once", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, fieldManager: "transport-test" });
  t.after(() => client.close());
  await client.create(corev1.ConfigMap, { metadata: { name: "read-me", namespace: ns } });
  proxy.inject({
    verb: "get",
    path: new RegExp(`/namespaces/${ns}/configmaps/read-me$`),
    action: { reset: "after" },
    times: 1,
  });
  const got = await client.get(corev1.ConfigMap, { namespace: ns, name: "read-me" });
  assert.equal(got.metadata?.name, "read-me");
});

/** The promise's outcome, or "pending" when it has not settled within `ms` (so a hang fails the test, boundedly). */
async function settled<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test("a request left unanswered times out with an error naming its verb and path", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, requestTimeoutMs: 1_000 });
  t.after(() => client.close());
  proxy.inject({
    verb: "get",
    path: new RegExp(`/namespaces/${ns}/configmaps/hung$`),
    action: { stall: true },
    times: 1,
  });
  const started = Date.now();
  const outcome = await settled(client.get(corev1.ConfigMap, { namespace: ns, name: "hung" }), 10_000);
  assert.notEqual(outcome, "pending", "the GET hung");
  assert.ok(typeof outcome === "object" && "error" in outcome, "the GET failed");
  const err = outcome.error as Error;
  assert.ok(err instanceof RequestTimeoutError, `a RequestTimeoutError, got ${err}`);
  assert.match(err.message, new RegExp(`GET /api/v1/namespaces/${ns}/configmaps/hung`));
  assert.ok(Date.now() - started < 5_000);
});

test("a watch whose response never starts times out", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, requestTimeoutMs: 1_000 });
  t.after(() => client.close());
  proxy.inject({ verb: "watch", path: new RegExp(`/namespaces/${ns}/configmaps$`), action: { stall: true }, times: 1 });
  const watch = client.watch(corev1.ConfigMap, { namespace: ns });
  const outcome = await settled(watch.next(), 10_000);
  assert.notEqual(outcome, "pending", "the watch hung");
  assert.ok(typeof outcome === "object" && "error" in outcome && outcome.error instanceof RequestTimeoutError);
  assert.match((outcome.error as Error).message, /^WATCH /);
});

test("an informer whose first list stalls lists again and syncs", async (t) => {
  const ns = await plane.namespace(t);
  await plane.http.expectOk("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "there" } });
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig });
  t.after(() => client.close());
  const stall = proxy.inject({
    verb: "list",
    path: new RegExp(`/namespaces/${ns}/configmaps$`),
    action: { stall: true },
    times: 1,
  });
  const informer = new Informer(client, corev1.ConfigMap, {
    namespace: ns,
    listPageTimeoutMs: 1_000,
    backoff: { initialMs: 100 },
  });
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync(15_000);
  assert.equal(stall.hits, 1);
  assert.ok(informer.stats.lists >= 2);
  assert.ok(informer.store.get(`${ns}/there`));
});

test("an informer whose watch stalls restarts it and sees later changes", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig });
  t.after(() => client.close());
  const stall = proxy.inject({
    verb: "watch",
    path: new RegExp(`/namespaces/${ns}/configmaps$`),
    action: { stall: true },
    times: 1,
  });
  const informer = new Informer(client, corev1.ConfigMap, {
    namespace: ns,
    inactivityTimeoutMs: 1_500,
    backoff: { initialMs: 100 },
  });
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync(15_000);
  await plane.http.expectOk("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "later" } });
  await eventually("the informer sees the later object", () => informer.store.get(`${ns}/later`), 15_000);
  assert.equal(stall.hits, 1);
  assert.equal(informer.stats.stalls, 1);
});

test("/healthz fails while an informer cannot list or watch, naming its kind, and recovers", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, fieldManager: "transport-test" });
  t.after(() => client.close());
  const manager = await Manager.create({
    name: "transport-test",
    client,
    probeAddress: "127.0.0.1:0",
    cacheFailureThresholdMs: 1_000,
    cache: { informerDefaults: { backoff: { initialMs: 100, maxMs: 400 } } },
    log: { level: "silent" },
  });
  const informer = manager.cache.informer(corev1.ConfigMap, { namespace: ns });
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running.catch(() => {});
  });
  await informer.waitForSync(15_000);
  const healthz = async () => {
    const res = await fetch(`http://${manager.addresses.probes}/healthz`);
    return { status: res.status, text: await res.text() };
  };
  assert.equal((await healthz()).status, 200);
  const failing = proxy.inject({
    verb: ["list", "watch"],
    path: new RegExp(`/namespaces/${ns}/configmaps$`),
    action: { status: 500 },
  });
  proxy.cutWatches();
  const bad = await eventually(
    "/healthz fails",
    async () => {
      const h = await healthz();
      return h.status === 500 && h;
    },
    15_000,
  );
  assert.match(bad.text, /\[-\]informers: .*ConfigMap/);
  failing.remove();
  await plane.http.expectOk("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "back" } });
  await eventually("/healthz passes again", async () => (await healthz()).status === 200, 15_000);
});

test("a reconcile throttled with 429 and Retry-After: 1 is retried no sooner than a second later", async (t) => {
  const ns = await plane.namespace(t);
  await plane.http.expectOk("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "busy" } });
  // The client's own resend of throttled requests off: this is about the work queue's.
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, throttledRetries: 0 });
  t.after(() => client.close());
  const throttle = proxy.inject({
    verb: "get",
    path: new RegExp(`/namespaces/${ns}/configmaps/busy$`),
    action: { status: 429, retryAfterSeconds: 1 },
    times: 2,
  });
  const runs: number[] = [];
  let converged = false;
  const queue = new WorkQueue(
    async (_key, signal) => {
      runs.push(performance.now());
      await client.get(corev1.ConfigMap, { namespace: ns, name: "busy" }, { signal });
      converged = true;
      return { kind: "done" };
    },
    { name: "throttled" },
  );
  t.after(() => queue.shutdown());
  queue.start();
  queue.add(`${ns}/busy`);
  await eventually("the reconcile gets through", () => converged, 15_000);
  assert.equal(throttle.hits, 2);
  assert.equal(runs.length, 3);
  const gaps = runs.slice(1).map((at, i) => at - (runs[i] as number));
  assert.ok(
    gaps.every((g) => g >= 990),
    `retries spaced ${gaps.map(Math.round).join(", ")} ms`,
  );
});

test("a create answered 429 with Retry-After is sent again after the wait, and makes one object", async (t) => {
  const ns = await plane.namespace(t);
  const client = await Client.connect({ kubeconfig: proxy.kubeconfig, fieldManager: "transport-test" });
  t.after(() => client.close());
  const throttle = proxy.inject({
    verb: "create",
    path: new RegExp(`/namespaces/${ns}/configmaps$`),
    action: { status: 429, retryAfterSeconds: 1 },
    times: 2,
  });
  const started = performance.now();
  await client.create(corev1.ConfigMap, { metadata: { generateName: "throttled-", namespace: ns } });
  const tookMs = performance.now() - started;
  assert.equal(throttle.hits, 2);
  assert.ok(tookMs >= 1_990, `two waits of Retry-After: 1 s took ${Math.round(tookMs)} ms`);
  assert.equal((await configMaps(ns)).length, 1, "exactly one object was created");
  // Throttled for longer than the resends allow: the first answer and three resends, then the 429 surfaces.
  const always = proxy.inject({
    verb: "create",
    path: new RegExp(`/namespaces/${ns}/configmaps$`),
    action: { status: 429, retryAfterSeconds: 0 },
    times: 10,
  });
  await assert.rejects(
    client.create(corev1.ConfigMap, { metadata: { generateName: "refused-", namespace: ns } }),
    (err: Error) => err.name === "TooManyRequestsError" || /429/.test(err.message),
  );
  assert.equal(always.hits, 4, "the first answer and three resends");
  always.remove();
});

test("a watch answered 401 refreshes the credentials and opens again", async (t) => {
  const ns = await plane.namespace(t);
  const config = await loadConnection({ kubeconfig: proxy.kubeconfig });
  const refreshes: boolean[] = [];
  const client = new Client(
    new Transport({
      ...config,
      authorization: (options) => {
        refreshes.push(options?.refresh === true);
        return config.authorization(options);
      },
    }),
  );
  t.after(() => client.close());
  const denied = proxy.inject({
    verb: "watch",
    path: new RegExp(`/namespaces/${ns}/configmaps$`),
    action: { status: 401, reason: "Unauthorized", message: "token expired (injected)" },
    times: 1,
  });
  // A watch from no resourceVersion starts with the objects that exist. The field selector keeps out the
  // kube-root-ca.crt the controller-manager publishes into every new namespace, which may come first.
  await plane.http.expectOk("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "seen" } });
  const controller = new AbortController();
  t.after(() => controller.abort());
  const watch = client.watch(corev1.ConfigMap, {
    namespace: ns,
    fieldSelector: "metadata.name=seen",
    signal: controller.signal,
  });
  const first = watch.next();
  const outcome = await settled(first, 10_000);
  assert.ok(
    typeof outcome === "object" && "value" in outcome,
    `the watch delivered an event, got ${JSON.stringify(outcome)}`,
  );
  assert.equal(outcome.value.value?.object.metadata?.name, "seen");
  assert.equal(denied.hits, 1);
  assert.deepEqual(refreshes, [false, true], "asked for fresh credentials after the 401");
});

test("informers whose watches expire relist after a jittered delay, not all at once", async (t) => {
  const ns = await plane.namespace(t);
  const n = 5;
  const informers: Informer<corev1.ConfigMap>[] = [];
  for (let i = 0; i < n; i++) {
    const userAgent = `relist-${i}-${ns}`;
    const client = await Client.connect({ kubeconfig: proxy.kubeconfig, userAgent });
    t.after(() => client.close());
    proxy.inject({ verb: "watch", userAgent, action: { expire: true }, times: 1 });
    const informer = new Informer(client, corev1.ConfigMap, { namespace: ns, relistJitterMs: 2_000 });
    t.after(() => informer.stop());
    informers.push(informer);
  }
  for (const informer of informers) informer.start();
  await eventually("every informer listed twice", () => informers.every((i) => i.stats.lists >= 2), 15_000);
  const gaps = informers.map((_, i) => {
    const mine = proxy.requests.filter((r) => r.userAgent === `relist-${i}-${ns}`);
    const expired = mine.find((r) => r.fault === "expire");
    const relist = mine.find((r) => r.verb === "list" && expired !== undefined && r.at >= expired.at);
    assert.ok(expired && relist, `informer ${i}: an expired watch, then a list`);
    return relist.at - expired.at;
  });
  assert.ok(Math.max(...gaps) >= 200, `relists came ${gaps.join(", ")} ms after the 410s`);
  assert.ok(Math.max(...gaps) - Math.min(...gaps) >= 100, `relists spread over ${gaps.join(", ")} ms`);
  assert.ok(gaps.every((g) => g <= 2_500));
});
