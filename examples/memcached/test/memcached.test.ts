/**
 * Memcached end to end on the real plane (controller-manager, scheduler and kwok: the Deployment gets a
 * ReplicaSet and Ready pods): the operator runs as `npm start` runs it (local webhook mode, CRDs installed).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  admissionregistrationv1,
  apiextensionsv1,
  appsv1,
  Client,
  eventsv1,
  installCrds,
  isNotFound,
  Manager,
  type ResourceType,
  validatingWebhook,
} from "converge-sdk";
import { createOperatorManager, ForbiddenError, InvalidError, webhookOptions } from "converge-sdk/runtime";
import { eventually, silentLogger, testPlane } from "converge-sdk/testing";
import { parse } from "yaml";
import { Memcached, messages } from "../src/api.ts";
import operator from "../src/operator.ts";
import { validateMemcached } from "../src/webhook.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "memcached-test" });

// The operator as `npm start` runs it, under a name of its own (its webhook configuration is cluster-scoped).
const op = { ...operator, name: `memcached-operator-${randomBytes(3).toString("hex")}` };
await installCrds(client, op);
const manager = await createOperatorManager(op, {
  client,
  webhookMode: "local",
  handleSignals: false,
  log: silentLogger,
});
const running = manager.start({ handleSignals: false });
test.after(async () => {
  await manager.stop();
  await running;
  await client
    .delete(admissionregistrationv1.ValidatingWebhookConfiguration, `${op.name}-validating`)
    .catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
  await client.close();
});

const sample = parse(
  await readFile(fileURLToPath(new URL("../config/samples/cache_v1alpha1_memcached.yaml", import.meta.url)), "utf8"),
) as Memcached;

const deploymentOf = (namespace: string, name: string, check: (d: appsv1.Deployment) => boolean, what: string) =>
  eventually(what, async () => {
    const d = await client.get(appsv1.Deployment, { namespace, name }).catch(() => undefined);
    return d && check(d) ? d : undefined;
  });

const memcachedWhen = (namespace: string, name: string, check: (m: Memcached) => boolean, what: string) =>
  eventually(
    what,
    async () => {
      const m = await client.get(Memcached, { namespace, name });
      return check(m) ? m : undefined;
    },
    60_000,
  );

test("the reference sample: 3 Ready memcached:1.6.9 pods, their names in status.nodes, Available", async (t) => {
  const namespace = await plane.namespace(t);
  await eventually("the webhook to admit a Memcached", () =>
    client.create(Memcached, { ...sample, metadata: { ...sample.metadata, namespace } }).catch((e: unknown) => {
      if (e instanceof InvalidError) throw e;
      return undefined;
    }),
  );
  const d = await deploymentOf(namespace, "memcached-sample", (x) => x.spec?.replicas === 3, "the Deployment");
  assert.equal(d.spec?.template.spec?.containers[0]?.image, "memcached:1.6.9");
  assert.equal(d.metadata?.ownerReferences?.[0]?.kind, "Memcached");
  const m = await memcachedWhen(
    namespace,
    "memcached-sample",
    (x) =>
      x.status?.nodes?.length === 3 &&
      x.status.conditions?.some((c) => c.type === "Available" && c.status === "True") === true,
    "3 nodes and Available",
  );
  assert.ok(
    m.status?.nodes?.every((n) => n.startsWith("memcached-sample-")),
    String(m.status?.nodes),
  );
  const available = m.status?.conditions?.find((c) => c.type === "Available");
  assert.equal(available?.observedGeneration, 1);
  assert.equal(m.status?.conditions?.find((c) => c.type === "Degraded")?.status, "False");
  // kubectl get shows the printer columns.
  const table = await plane.kubectl(["get", "memcacheds", "-n", namespace]);
  assert.match(table.stdout, /^NAME\s+SIZE\s+READY\s+AGE\n/);
  assert.match(table.stdout, /memcached-sample\s+3\s+True\s+\d+s/);
  // Reconciles are counted per Memcached.
  assert.match(
    await manager.metrics.registry.metrics(),
    new RegExp(`memcached_reconciles_total\\{namespace="${namespace}",name="memcached-sample"\\} [1-9]`),
  );
});

test("size and version changes roll out; a Deployment edited or deleted by hand is put back", async (t) => {
  const namespace = await plane.namespace(t);
  await client.create(Memcached, { metadata: { name: "m", namespace }, spec: { size: 1, version: "1.6.9" } });
  await deploymentOf(namespace, "m", (d) => d.spec?.replicas === 1, "1 replica");
  await client.patch(Memcached, { namespace, name: "m" }, "merge", { spec: { size: 2, version: "1.6.12" } });
  await deploymentOf(
    namespace,
    "m",
    (d) => d.spec?.replicas === 2 && d.spec.template.spec?.containers[0]?.image === "memcached:1.6.12",
    "2 replicas of 1.6.12",
  );
  await memcachedWhen(namespace, "m", (m) => m.status?.nodes?.length === 2, "2 nodes");
  await client.patch(appsv1.Deployment, { namespace, name: "m" }, "merge", { spec: { replicas: 5 } });
  await deploymentOf(namespace, "m", (d) => d.spec?.replicas === 2, "the edit reverted");
  await client.delete(appsv1.Deployment, { namespace, name: "m" });
  await deploymentOf(
    namespace,
    "m",
    (d) => d.spec?.replicas === 2 && !d.metadata?.deletionTimestamp,
    "the Deployment back",
  );
});

test("deletion runs the finalizer's cleanup first, then the Memcached and its Deployment go", async (t) => {
  const namespace = await plane.namespace(t);
  await client.create(Memcached, { metadata: { name: "gone", namespace }, spec: { size: 1, version: "1.6.9" } });
  const m = await memcachedWhen(
    namespace,
    "gone",
    (x) => x.metadata?.finalizers?.includes("cache.example.com/finalizer") === true,
    "the finalizer",
  );
  await deploymentOf(namespace, "gone", () => true, "the Deployment");
  await client.delete(Memcached, { namespace, name: "gone" });
  await eventually("the Memcached to be gone", () =>
    client.get(Memcached, { namespace, name: "gone" }).then(
      () => undefined,
      (e: unknown) => isNotFound(e),
    ),
  );
  const events = await client.list(eventsv1.Event, { namespace });
  assert.ok(
    events.items.some((e) => e.reason === "Finalizing" && e.regarding?.uid === m.metadata?.uid),
    "the cleanup recorded its event",
  );
  // The garbage collector deletes the owned Deployment (it may take up to 30 s to discover a new CRD).
  await eventually(
    "the Deployment to be garbage-collected",
    () =>
      client.get(appsv1.Deployment, { namespace, name: "gone" }).then(
        () => undefined,
        (e: unknown) => isNotFound(e),
      ),
    90_000,
  );
});

test("size 0 or no version: rejected by the CRD's CEL rules with the reference messages", async (t) => {
  const namespace = await plane.namespace(t);
  const bad = async (spec: Record<string, unknown>, field: string, message: string) => {
    await assert.rejects(
      client.create(Memcached, { metadata: { name: "bad", namespace }, spec } as Memcached),
      (e: unknown) => e instanceof InvalidError && e.message.includes(field) && e.message.includes(message),
    );
  };
  await bad({ size: 0, version: "1.6.9" }, "spec.size", messages.size);
  await bad({ size: 1 }, "spec.version", messages.version);
  await bad({ size: 1, version: "" }, "spec.version", messages.version);
  const r = await plane.kubectl(
    ["create", "-n", namespace, "-f", "-"],
    JSON.stringify({ ...sample, spec: { size: 0, version: "1.6.9" } }),
  );
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /The Memcached "memcached-sample" is invalid: spec.size: Invalid value: 0: size must be greater than 0/,
  );
});

test("the validating webhook, on its own, denies through the apiserver with the reference messages", async (t) => {
  // CEL rejects these objects before any validating webhook is called (the apiserver validates the schema
  // first). To see the webhook's own decision through the apiserver, its handler serves a copy of the CRD
  // without the CEL rules, in a group of its own.
  const namespace = await plane.namespace(t);
  const group = "nocel.cache.example.com";
  const crd = Memcached.crd();
  const spec = crd.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
  if (spec) {
    delete spec["x-kubernetes-validations"];
    delete spec.properties?.size?.["x-kubernetes-validations"];
  }
  const Bare = { ...Memcached, group, apiVersion: `${group}/v1alpha1` } as ResourceType<Memcached>;
  await client.apply(
    apiextensionsv1.CustomResourceDefinition,
    { ...crd, metadata: { name: `memcacheds.${group}` }, spec: { ...crd.spec, group } },
    { force: true },
  );
  const bareOp = {
    ...op,
    name: `${op.name}-bare`,
    definitions: [],
    controllers: [],
    webhooks: [validatingWebhook(Bare, { validate: validateMemcached })],
  };
  const bare = await Manager.create({
    name: bareOp.name,
    client,
    log: silentLogger,
    webhook: webhookOptions(bareOp, { mode: "local", client: () => client }),
  });
  for (const w of bareOp.webhooks) bare.addWebhook(w);
  const bareRunning = bare.start();
  t.after(async () => {
    await bare.stop();
    await bareRunning;
    await client
      .delete(admissionregistrationv1.ValidatingWebhookConfiguration, `${bareOp.name}-validating`)
      .catch(() => undefined);
    await client.delete(apiextensionsv1.CustomResourceDefinition, `memcacheds.${group}`).catch(() => undefined);
  });
  const denied = await eventually("the webhook's denial", () =>
    client.create(Bare, { metadata: { name: "bad", namespace }, spec: { size: 0 } } as Memcached).then(
      () => assert.fail("admitted"),
      (e: unknown) => (e instanceof ForbiddenError ? e : undefined),
    ),
  );
  assert.match(denied.message, /admission webhook "vmemcached.nocel.cache.example.com" denied the request/);
  assert.match(denied.message, new RegExp(`${messages.size}; ${messages.version}`));
  const ok = await client.create(Bare, { metadata: { name: "good", namespace }, spec: { size: 1, version: "1.6.9" } });
  assert.equal(ok.spec.size, 1);
});

test("converge generate --check: the generated files are up to date", async () => {
  const main = fileURLToPath(new URL("../../../src/cli/main.ts", import.meta.url));
  const dir = fileURLToPath(new URL("..", import.meta.url));
  const r = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [main, "generate", "--check", "--dir", dir], (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: stdout + stderr }),
    ),
  );
  assert.equal(r.code, 0, r.out);
});
