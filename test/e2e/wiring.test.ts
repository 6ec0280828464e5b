/**
 * How controllers are wired to the cache, on the real plane: a child kind whose first sync failed is tried again,
 * children of a kind also cached metadata-only are read in full, cluster-scoped owners, and cluster-scoped kinds
 * under a manager restricted to one namespace.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Client } from "../../src/client/index.ts";
import { child, controller, filter, setControllerReference, silentLogger } from "../../src/controller/index.ts";
import { Manager, type ManagerOptions } from "../../src/manager/index.ts";
import { eventually, FaultProxy, testPlane } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const admin = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "wiring-test" });
const dir = await mkdtemp(join(tmpdir(), "converge-wiring-"));
after(async () => {
  await admin.close();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(
  t: { after: (fn: () => Promise<void>) => void },
  kubeconfig: string,
  setup: (m: Manager) => void,
  options: Partial<ManagerOptions> = {},
): Promise<Manager> {
  const client = await Client.connect({ kubeconfig, fieldManager: "wiring-test-operator" });
  const manager = await Manager.create({ name: "wiring-test", client, log: silentLogger, ...options });
  setup(manager);
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
    await client.close();
  });
  await manager.whenLeading();
  return manager;
}

async function proxy(t: { after: (fn: () => Promise<void>) => void }, name: string): Promise<FaultProxy> {
  const p = await FaultProxy.start({
    upstream: plane.credentials,
    kubeconfigPath: join(dir, `${name}.kubeconfig`),
    maxHoldMs: 10_000,
  });
  t.after(() => p.stop());
  return p;
}

const parentOnly = filter((o: corev1.ConfigMap) => o.metadata?.labels?.role === "parent");
const b64 = (s: string) => Buffer.from(s).toString("base64");

test("a child kind whose first sync failed is synced again by a later reconcile, without a restart", async (t) => {
  const namespace = await plane.namespace(t);
  const p = await proxy(t, "first-sync");
  // Every list of Secrets is forbidden at first, so the child kind's informer cannot sync in time.
  const forbidden = p.inject({ verb: "list", resource: "secrets", action: { status: 403, reason: "Forbidden" } });
  await run(
    t,
    p.kubeconfig,
    (m) =>
      m.add(
        controller("first-sync")
          .for(corev1.ConfigMap, { predicates: [parentOnly] })
          .withOptions({ backoff: { baseMs: 50, maxMs: 500 } })
          .children((parent) => [child(corev1.Secret, { metadata: { name: `${parent.metadata?.name}-secret` } })], {
            status: () => {},
          }),
      ),
    {
      namespace,
      cacheSyncTimeoutMs: 1_500,
      cache: { informerDefaults: { backoff: { initialMs: 100, maxMs: 400 } } },
    },
  );
  await admin.create(corev1.ConfigMap, { metadata: { name: "p", namespace, labels: { role: "parent" } } });
  await eventually("the Secret informer to be refused", () => forbidden.hits >= 1);
  // Past the sync timeout: the first reconcile's wait for Secrets has failed.
  await sleep(2_500);
  forbidden.remove();
  const secret = await eventually(
    "the child to be created once Secrets can be listed",
    () => admin.get(corev1.Secret, { namespace, name: "p-secret" }).catch(() => undefined),
    20_000,
  );
  assert.equal(secret.metadata?.labels?.["converge.dev/controller"], "first-sync");
});

test("children of a kind also watched metadata-only are read in full and not applied again on every reconcile", async (t) => {
  const namespace = await plane.namespace(t);
  const p = await proxy(t, "metadata-only");
  const reconciles: string[] = [];
  const m = await run(
    t,
    p.kubeconfig,
    (mgr) =>
      mgr.add(
        controller("meta-children")
          .for(corev1.ConfigMap, { predicates: [parentOnly] })
          .owns(corev1.Secret, { metadataOnly: true })
          .children(
            (parent) => [
              child(corev1.Secret, {
                metadata: { name: `${parent.metadata?.name}-secret` },
                data: { key: b64("value") },
              }),
            ],
            { status: () => {} },
          ),
      ),
    { namespace },
  );
  m.onReconcile((e) => {
    if (e.key === `${namespace}/p` && e.result === "success") reconciles.push(e.key);
  });
  await admin.create(corev1.ConfigMap, { metadata: { name: "p", namespace, labels: { role: "parent" } } });
  await eventually("the child", () => admin.get(corev1.Secret, { namespace, name: "p-secret" }).catch(() => undefined));
  for (let i = 0; i < 3; i++) {
    const before = reconciles.length;
    await admin.patch(corev1.ConfigMap, { namespace, name: "p" }, "merge", {
      metadata: { annotations: { poke: String(i) } },
    });
    await eventually(`reconcile after poke ${i}`, () => reconciles.length > before);
  }
  const applies = p.requests.filter(
    (q) => q.resource === "secrets" && q.verb === "patch" && q.path.endsWith("/p-secret"),
  );
  assert.ok(reconciles.length >= 4, `${reconciles.length} reconciles`);
  assert.equal(applies.length, 1, `one apply for ${reconciles.length} reconciles of an unchanged child`);
});

test("events of children of a cluster-scoped owner reconcile the owner by its name", async (t) => {
  const namespace = await plane.namespace(t);
  const keys: string[] = [];
  await run(t, plane.kubeconfig, (m) =>
    m.add(
      controller("cluster-owner")
        .for(corev1.Namespace)
        .owns(corev1.ConfigMap)
        .reconcileKey(async (req) => {
          if (req.name === namespace) keys.push(req.key);
          return undefined;
        }),
    ),
  );
  await eventually("the initial reconcile of the namespace", () => keys.length > 0);
  const owner = await admin.get(corev1.Namespace, namespace);
  await admin.create(
    corev1.ConfigMap,
    setControllerReference(owner, { metadata: { name: "owned", namespace } } as corev1.ConfigMap, corev1.Namespace),
  );
  await eventually("a reconcile from the child's event", () => keys.length > 1);
  await admin.patch(corev1.ConfigMap, { namespace, name: "owned" }, "merge", { data: { a: "b" } });
  await eventually("a reconcile from the child's update", () => keys.length > 2);
  assert.deepEqual([...new Set(keys)], [namespace], "the key of a cluster-scoped owner is its name");
});

test("a manager restricted to one namespace watches cluster-scoped kinds cluster-wide and reads them by name", async (t) => {
  const namespace = await plane.namespace(t);
  const seen: Array<string | undefined> = [];
  const errors: string[] = [];
  const m = await run(
    t,
    plane.kubeconfig,
    (mgr) =>
      mgr.add(
        controller("scoped-cluster-kind")
          .for(corev1.Namespace)
          .owns(corev1.ConfigMap)
          .reconcileKey(async (req, ctx) => {
            if (req.name === namespace) seen.push(ctx.object?.metadata?.name);
            return undefined;
          }),
      ),
    { namespace },
  );
  m.onReconcile((e) => {
    if (e.key === namespace && e.result === "error") errors.push(e.key);
  });
  await eventually("the namespace to be reconciled with its object", () => seen.includes(namespace), 10_000);
  // Children in the manager's namespace reach their cluster-scoped owner.
  const before = seen.length;
  const owner = await admin.get(corev1.Namespace, namespace);
  await admin.create(
    corev1.ConfigMap,
    setControllerReference(owner, { metadata: { name: "owned", namespace } } as corev1.ConfigMap, corev1.Namespace),
  );
  await eventually("a reconcile from the child's event", () => seen.length > before, 10_000);
  assert.deepEqual(errors, []);
});
