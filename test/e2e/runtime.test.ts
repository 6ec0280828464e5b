/**
 * The runtime's guarantees, each shown on the real plane: one reconcile per key at a time and the last update
 * seen, per-key backoff, owned objects repaired, finalizers, read-your-writes, metrics, and no writes at rest.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client } from "../../src/client/index.ts";
import {
  controller,
  filter,
  type KeyContext,
  type Request,
  setControllerReference,
  silentLogger,
} from "../../src/controller/index.ts";
import { Manager, type ManagerOptions } from "../../src/manager/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "runtime-test" });
test.after(() => client.close());

type ConfigMap = corev1.ConfigMap;

async function run(
  t: { after: (fn: () => Promise<void>) => void },
  namespace: string,
  setup: (m: Manager) => void,
  extra: Partial<ManagerOptions> = {},
) {
  const mgrClient = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "runtime-test-operator" });
  const manager = await Manager.create({
    name: "runtime-test",
    client: mgrClient,
    namespace,
    log: silentLogger,
    metricsAddress: "127.0.0.1:0",
    probeAddress: "127.0.0.1:0",
    ...extra,
  });
  setup(manager);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
    await mgrClient.close();
  });
  await manager.whenLeading();
  return manager;
}

const parent = (namespace: string, name: string, data: Record<string, string> = {}): ConfigMap => ({
  metadata: { name, namespace, labels: { role: "parent" } },
  data,
});

test("one reconcile per key at a time under a burst of updates, and the last update is always seen", async (t) => {
  const namespace = await plane.namespace(t);
  const inFlight = new Map<string, number>();
  let maxSameKey = 0;
  let lastSeen = "";
  let reconciles = 0;
  await run(t, namespace, (m) =>
    m.add(
      controller("burst")
        .for(corev1.ConfigMap)
        .withOptions({ maxConcurrentReconciles: 4 })
        .reconcileKey(async (req: Request, ctx: KeyContext<ConfigMap>) => {
          const n = (inFlight.get(req.key) ?? 0) + 1;
          inFlight.set(req.key, n);
          maxSameKey = Math.max(maxSameKey, n);
          reconciles++;
          try {
            await new Promise((r) => setTimeout(r, 15));
            if (req.name === "burst") lastSeen = ctx.object?.data?.n ?? "";
          } finally {
            inFlight.set(req.key, (inFlight.get(req.key) ?? 1) - 1);
          }
          return undefined;
        }),
    ),
  );
  await client.create(corev1.ConfigMap, parent(namespace, "burst", { n: "0" }));
  for (let i = 1; i <= 60; i++) {
    await client.patch(corev1.ConfigMap, { namespace, name: "burst" }, "merge", { data: { n: String(i) } });
  }
  await eventually("the last update to be reconciled", () => lastSeen === "60");
  assert.equal(maxSameKey, 1, "never two reconciles of one key at once");
  assert.ok(reconciles < 61, `updates are coalesced (${reconciles} reconciles for 61 writes)`);
});

test("errors are retried with per-key exponential backoff; other keys are not held up", async (t) => {
  const namespace = await plane.namespace(t);
  const attempts: number[] = [];
  const healthy: string[] = [];
  const m = await run(t, namespace, (mgr) =>
    mgr.add(
      controller("backoff")
        .for(corev1.ConfigMap)
        .withOptions({ backoff: { baseMs: 40, maxMs: 10_000 }, maxConcurrentReconciles: 2 })
        .reconcileKey(async (req) => {
          if (req.name === "failing") {
            attempts.push(Date.now());
            throw new Error("not yet");
          }
          healthy.push(req.name);
          return undefined;
        }),
    ),
  );
  await client.create(corev1.ConfigMap, parent(namespace, "failing"));
  await eventually("5 attempts", () => attempts.length >= 5);
  await client.create(corev1.ConfigMap, parent(namespace, "fine"));
  await eventually("the healthy key to be reconciled", () => healthy.includes("fine"));
  const gaps = attempts.slice(1, 5).map((at, i) => at - (attempts[i] as number));
  // 40, 80, 160, 320 ms nominal: each wait at least the backoff, and growing.
  for (const [i, gap] of gaps.entries())
    assert.ok(gap >= 40 * 2 ** i - 5, `gap ${i} was ${gap} ms (${gaps.join(", ")})`);
  assert.ok((gaps[3] as number) > (gaps[0] as number) * 3, `backoff grows: ${gaps.join(", ")}`);
  const body = await (await fetch(`http://${m.addresses.metrics}/metrics`)).text();
  assert.match(body, /controller_runtime_reconcile_errors_total\{controller="backoff"\} ([5-9]|\d{2,})/);
  assert.match(body, /workqueue_retries_total\{name="backoff",controller="backoff"\} ([4-9]|\d{2,})/);
});

test("an owned object deleted by hand is recreated; a read right after a write sees the write", async (t) => {
  const namespace = await plane.namespace(t);
  const readBacks: boolean[] = [];
  await run(t, namespace, (m) =>
    m.add(
      controller("owner")
        .for(corev1.ConfigMap, {
          predicates: [filter((o) => o.metadata?.labels?.role === "parent")],
        })
        .owns(corev1.ConfigMap)
        .reconcileKey(async (req, ctx) => {
          const p = ctx.object;
          if (p?.metadata?.labels?.role !== "parent") return undefined;
          const childKey = { namespace: req.namespace, name: `${req.name}-child` };
          const desired = p.data?.value ?? "";
          if (ctx.cache.get(corev1.ConfigMap, childKey)?.data?.value === desired) return undefined;
          await ctx.client.createOrUpdate(corev1.ConfigMap, childKey, (child) => {
            child.data = { value: desired };
            setControllerReference(p, child, corev1.ConfigMap);
          });
          // The informer has not necessarily seen the write yet; the cache must return it anyway.
          readBacks.push(ctx.cache.get(corev1.ConfigMap, childKey)?.data?.value === desired);
          return undefined;
        }),
    ),
  );
  await client.create(corev1.ConfigMap, parent(namespace, "p", { value: "v1" }));
  const child = await eventually("the child", () =>
    client.get(corev1.ConfigMap, { namespace, name: "p-child" }).catch(() => undefined),
  );
  assert.equal(child.data?.value, "v1");
  assert.equal(child.metadata?.ownerReferences?.[0]?.name, "p");
  await client.delete(corev1.ConfigMap, { namespace, name: "p-child" });
  const recreated = await eventually("the child to be recreated", async () => {
    const c = await client.get(corev1.ConfigMap, { namespace, name: "p-child" }).catch(() => undefined);
    return c && c.metadata?.uid !== child.metadata?.uid ? c : undefined;
  });
  assert.equal(recreated.data?.value, "v1");
  await client.patch(corev1.ConfigMap, { namespace, name: "p" }, "merge", { data: { value: "v2" } });
  await eventually("the child to follow the parent", async () => {
    const c = await client.get(corev1.ConfigMap, { namespace, name: "p-child" });
    return c.data?.value === "v2" ? true : undefined;
  });
  assert.ok(readBacks.length >= 3 && readBacks.every(Boolean), `reads after writes saw them: ${readBacks.join(",")}`);
});

test("a finalizer blocks deletion until its cleanup ran", async (t) => {
  const namespace = await plane.namespace(t);
  const cleaned: string[] = [];
  let release = false;
  await run(t, namespace, (m) =>
    m.add(
      controller("finalizer")
        .for(corev1.ConfigMap)
        .reconcile(async (obj, ctx) => {
          await ctx.finalizer("converge.dev/cleanup", async () => {
            if (!release) throw new Error("cleanup not possible yet");
            cleaned.push(obj.metadata.name);
          });
          return undefined;
        }),
    ),
  );
  await client.create(corev1.ConfigMap, parent(namespace, "guarded"));
  await eventually("the finalizer to be added", async () => {
    const o = await client.get(corev1.ConfigMap, { namespace, name: "guarded" });
    return o.metadata?.finalizers?.includes("converge.dev/cleanup") ? true : undefined;
  });
  await client.delete(corev1.ConfigMap, { namespace, name: "guarded" });
  await new Promise((r) => setTimeout(r, 500));
  const held = await client.get(corev1.ConfigMap, { namespace, name: "guarded" });
  assert.ok(held.metadata?.deletionTimestamp, "still there, being deleted");
  assert.deepEqual(cleaned, []);
  release = true;
  await eventually("the object to be gone", () =>
    client.get(corev1.ConfigMap, { namespace, name: "guarded" }).then(
      () => undefined,
      () => true,
    ),
  );
  assert.deepEqual(cleaned, ["guarded"]);
});

test("at rest, periodic resyncs of unchanged objects make no writes; /metrics and probes answer", async (t) => {
  const namespace = await plane.namespace(t);
  let reconciles = 0;
  const m = await run(
    t,
    namespace,
    (mgr) =>
      mgr.add(
        controller("steady")
          .for(corev1.ConfigMap, { predicates: [{ create: (o) => !o.metadata?.name?.endsWith("-copy") }] })
          .owns(corev1.ConfigMap)
          .reconcileKey(async (req, ctx) => {
            reconciles++;
            const p = ctx.object;
            if (!p || p.metadata?.name?.endsWith("-copy") || p.metadata?.name === "kube-root-ca.crt") return undefined;
            await ctx.client.createOrUpdate(
              corev1.ConfigMap,
              { namespace: req.namespace, name: `${req.name}-copy` },
              (c) => {
                c.data = { ...p.data };
                setControllerReference(p, c, corev1.ConfigMap);
              },
            );
            return undefined;
          }),
      ),
    { cache: { informerDefaults: { resyncMs: 300 } } },
  );
  for (let i = 0; i < 5; i++) await client.create(corev1.ConfigMap, parent(namespace, `s${i}`, { i: String(i) }));
  await eventually("5 copies", async () => {
    const all = await client.list(corev1.ConfigMap, { namespace });
    return all.items.filter((c) => c.metadata?.name?.endsWith("-copy")).length === 5 ? true : undefined;
  });
  const writes = () =>
    fetch(`http://${m.addresses.metrics}/metrics`)
      .then((r) => r.text())
      .then((body) =>
        [
          ...body.matchAll(
            /rest_client_requests_total\{code="\d+",method="(POST|PUT|PATCH|DELETE)",host="[^"]+"\} (\d+)/g,
          ),
        ].reduce((sum, mm) => sum + Number(mm[2]), 0),
      );
  await new Promise((r) => setTimeout(r, 500));
  const before = await writes();
  assert.ok(before >= 5, `the operator's writes are counted (${before})`);
  const reconcilesBefore = reconciles;
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(reconciles > reconcilesBefore + 5, `resyncs ran (${reconciles - reconcilesBefore} reconciles)`);
  assert.equal(await writes(), before, "no API writes at rest");

  const metrics = await (await fetch(`http://${m.addresses.metrics}/metrics`)).text();
  for (const name of [
    "controller_runtime_reconcile_total",
    "controller_runtime_reconcile_errors_total",
    "controller_runtime_reconcile_time_seconds_bucket",
    "controller_runtime_max_concurrent_reconciles",
    "controller_runtime_active_workers",
    "workqueue_depth",
    "workqueue_adds_total",
    "workqueue_queue_duration_seconds_bucket",
    "workqueue_work_duration_seconds_bucket",
    "workqueue_unfinished_work_seconds",
    "workqueue_longest_running_processor_seconds",
    "rest_client_requests_total",
    "rest_client_request_duration_seconds_bucket",
    "process_resident_memory_bytes",
  ]) {
    assert.match(metrics, new RegExp(`^${name}[{ ]`, "m"), name);
  }
  assert.match(metrics, /controller_runtime_reconcile_total\{controller="steady",result="success"\} (\d+)/);
  assert.match(metrics, /controller_runtime_max_concurrent_reconciles\{controller="steady"\} 1/);
  const ready = await fetch(`http://${m.addresses.probes}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal((await fetch(`http://${m.addresses.probes}/healthz`)).status, 200);
});
