/**
 * Admission and conversion webhooks on the real plane: the apiserver calls the operator's webhook server on
 * 127.0.0.1 (a `url` clientConfig, as `converge run` sets up) with the CA bundle the server made itself.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Client, ForbiddenError, isNotFound } from "../../src/client/index.ts";
import { defineResource, Type } from "../../src/definition/index.ts";
import { Manager } from "../../src/manager/index.ts";
import { installCrds, type OperatorDefinition, webhookOptions } from "../../src/operator/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import {
  admissionregistrationv1,
  apiextensionsv1,
  corev1,
  type ObjectOf,
  type ResourceType,
} from "../../src/types/index.ts";
import {
  allow,
  defineConversion,
  deny,
  mutatingWebhook,
  SelfSignedCertificates,
  stash,
  unstash,
  validatingWebhook,
} from "../../src/webhook/index.ts";

const plane = await testPlane();
const admin = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "webhooks-test" });

/** Two versions: v1alpha1 (flat) and v1 (the hub and storage version), which has a field v1alpha1 lacks. */
const Gadget = defineResource({
  group: "webhooks.e2e.converge.dev",
  kind: "Gadget",
  storage: "v1",
  versions: {
    v1alpha1: {
      spec: Type.Object({ size: Type.Integer(), color: Type.Optional(Type.String()) }),
    },
    v1: {
      spec: Type.Object({
        replicas: Type.Integer(),
        look: Type.Optional(Type.Object({ color: Type.String() })),
        tier: Type.Optional(Type.String({ description: "Defaulted by the mutating webhook." })),
      }),
    },
  },
});
type Gadget = ObjectOf<typeof Gadget>;

const op: OperatorDefinition = {
  name: `gadget-${randomBytes(3).toString("hex")}`,
  definitions: [Gadget],
  controllers: [],
  webhooks: [
    validatingWebhook(Gadget, {
      validate: ({ object }) => {
        const replicas = object?.spec.replicas ?? 0;
        if (replicas > 10) {
          return deny("a gadget has at most 10 replicas", [
            { field: "spec.replicas", message: `${replicas}: must be at most 10` },
          ]);
        }
        return replicas === 0 ? allow("a gadget with 0 replicas does nothing") : allow();
      },
    }),
    mutatingWebhook(Gadget, {
      mutate: (g) => {
        g.spec.tier ??= "standard";
        return g;
      },
    }),
  ],
  conversions: [
    defineConversion(Gadget, {
      hub: "v1",
      spokes: {
        v1alpha1: {
          toHub: (o) => {
            const { object, data } = unstash<{ tier?: string }, typeof o>(o);
            return {
              ...object,
              spec: {
                replicas: o.spec.size,
                ...(o.spec.color !== undefined ? { look: { color: o.spec.color } } : {}),
                ...(data?.tier !== undefined ? { tier: data.tier } : {}),
              },
            } as Gadget;
          },
          fromHub: (o) =>
            stash(
              { ...o, spec: { size: o.spec.replicas, ...(o.spec.look ? { color: o.spec.look.color } : {}) } },
              o.spec.tier !== undefined ? { tier: o.spec.tier } : {},
            ),
        },
      },
    }),
  ],
};

// Short-lived serving certificates, so that they rotate several times while the tests run.
const certificates = new SelfSignedCertificates({
  dnsNames: ["localhost"],
  ips: ["127.0.0.1"],
  certLifetime: { ms: 3_000 },
  checkIntervalMs: 200,
});
const manager = await Manager.create({
  name: op.name,
  client: admin,
  webhook: webhookOptions(op, { mode: "local", client: () => admin, certificates }),
  shutdownTimeoutMs: 5_000,
});
for (const w of op.webhooks ?? []) manager.addWebhook(w);
for (const c of op.conversions ?? []) manager.addConversion(c);
await installCrds(admin, op);
const running = manager.start({ handleSignals: false });
await eventually("the webhook configurations", async () => {
  const v = await admin.get(admissionregistrationv1.ValidatingWebhookConfiguration, `${op.name}-validating`);
  return v.webhooks?.[0]?.clientConfig.url?.startsWith("https://127.0.0.1:") ? v : undefined;
});
test.after(async () => {
  await manager.stop();
  await running;
  for (const [type, name] of [
    [admissionregistrationv1.ValidatingWebhookConfiguration, `${op.name}-validating`],
    [admissionregistrationv1.MutatingWebhookConfiguration, `${op.name}-mutating`],
    [apiextensionsv1.CustomResourceDefinition, "gadgets.webhooks.e2e.converge.dev"],
  ] as Array<[ResourceType, string]>) {
    await admin.delete(type, name).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
  }
  await admin.close();
});

// Apiserver webhook clients retry failed connections; the first call after the configuration was written can
// also race its informer. Creating until the webhook answers keeps the tests about behaviour, not start-up.
async function createWhenServed(namespace: string): Promise<void> {
  await eventually("the webhooks to be called", async () => {
    const g = await admin
      .create(Gadget, { metadata: { generateName: "probe-", namespace }, spec: { replicas: 1 } }, { dryRun: true })
      .catch(() => undefined);
    return g?.spec.tier === "standard";
  });
}

test("kubectl create of an invalid object is denied with the webhook's message and field", async (t) => {
  const namespace = await plane.namespace(t);
  await createWhenServed(namespace);
  const manifest = JSON.stringify({
    apiVersion: "webhooks.e2e.converge.dev/v1",
    kind: "Gadget",
    metadata: { name: "huge", namespace },
    spec: { replicas: 11 },
  });
  const r = await plane.kubectl(["create", "-f", "-"], manifest);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /admission webhook "vgadget.webhooks.e2e.converge.dev" denied the request/);
  assert.match(r.stderr, /a gadget has at most 10 replicas \(spec.replicas: 11: must be at most 10\)/);
  await assert.rejects(
    admin.create(Gadget, { metadata: { name: "huge", namespace }, spec: { replicas: 11 } }),
    (err: unknown) => err instanceof ForbiddenError && /spec\.replicas: 11: must be at most 10/.test(err.message),
  );
  // Warnings reach kubectl too.
  const warned = await plane.kubectl(
    ["create", "-f", "-"],
    manifest.replace('"huge"', '"idle"').replace('"replicas":11', '"replicas":0'),
  );
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /Warning: a gadget with 0 replicas does nothing/);
});

test("the mutating webhook's default is on the stored object; a dry run stores nothing", async (t) => {
  const namespace = await plane.namespace(t);
  await createWhenServed(namespace);
  const created = await admin.create(Gadget, { metadata: { name: "plain", namespace }, spec: { replicas: 2 } });
  assert.equal(created.spec.tier, "standard");
  const stored = await admin.get(Gadget, { namespace, name: "plain" });
  assert.equal(stored.spec.tier, "standard");
  const gold = await admin.create(Gadget, {
    metadata: { name: "gold", namespace },
    spec: { replicas: 2, tier: "gold" },
  });
  assert.equal(gold.spec.tier, "gold", "a given value is kept");
  await admin.create(Gadget, { metadata: { name: "dry", namespace }, spec: { replicas: 1 } }, { dryRun: true });
  await assert.rejects(admin.get(Gadget, { namespace, name: "dry" }), isNotFound);
});

test("an object written as v1alpha1 reads back as v1 and back again with no field lost", async (t) => {
  const namespace = await plane.namespace(t);
  await createWhenServed(namespace);
  const v1alpha1 = Gadget.versions.v1alpha1;
  const old = await admin.create(v1alpha1, {
    metadata: { name: "legacy", namespace, labels: { app: "x" }, annotations: { note: "kept" } },
    spec: { size: 3, color: "red" },
  });
  assert.deepEqual(old.spec, { size: 3, color: "red" });
  const asV1 = await admin.get(Gadget, { namespace, name: "legacy" });
  assert.equal(asV1.apiVersion, "webhooks.e2e.converge.dev/v1");
  assert.deepEqual(asV1.spec, { replicas: 3, look: { color: "red" }, tier: "standard" });
  assert.deepEqual(asV1.metadata?.annotations, { note: "kept" }, "no stash left on the hub version");
  const again = await admin.get(v1alpha1, { namespace, name: "legacy" });
  assert.deepEqual(again.spec, { size: 3, color: "red" });
  assert.deepEqual(again.metadata?.labels, { app: "x" });

  // A field only v1 has (tier) survives an update made through v1alpha1.
  await admin.patch(Gadget, { namespace, name: "legacy" }, "merge", { spec: { tier: "gold" } });
  const viaOld = await admin.get(v1alpha1, { namespace, name: "legacy" });
  await admin.update(v1alpha1, { ...viaOld, spec: { ...viaOld.spec, size: 4 } });
  const after = await admin.get(Gadget, { namespace, name: "legacy" });
  assert.deepEqual(after.spec, { replicas: 4, look: { color: "red" }, tier: "gold" });
  // Lists convert every item.
  const list = await admin.list(v1alpha1, { namespace });
  assert.deepEqual(
    list.items.map((i) => [i.apiVersion ?? list.apiVersion, i.spec.size]),
    [["webhooks.e2e.converge.dev/v1alpha1", 4]],
  );
});

test("certificates rotating during a stream of requests through the apiserver fail none of them", async (t) => {
  const namespace = await plane.namespace(t);
  await createWhenServed(namespace);
  const seen = new Set<string>();
  const stop = Date.now() + 8_000;
  let n = 0;
  while (Date.now() < stop) {
    seen.add(certificates.current().cert);
    // Each create calls the mutating and the validating webhook; the get converts to v1alpha1.
    await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const name = `s-${n}-${i}`;
        await admin.create(Gadget, { metadata: { name, namespace }, spec: { replicas: 1 } });
        await admin.get(Gadget.versions.v1alpha1, { namespace, name });
      }),
    );
    n++;
  }
  assert.ok(n >= 10, `a stream of requests (${n * 4} creates)`);
  assert.ok(seen.size >= 2, `the certificate rotated during the stream (${seen.size} certificates)`);
});

test("replicas share one certificate through a Secret; a rotation by one is picked up by the other", async (t) => {
  const namespace = await plane.namespace(t);
  const secret = { client: admin, namespace, name: "webhook-certs" };
  const a = new SelfSignedCertificates({
    dnsNames: ["svc.ns.svc"],
    secret,
    certLifetime: { ms: 4_000 },
    checkIntervalMs: 100_000,
  });
  const b = new SelfSignedCertificates({
    dnsNames: ["svc.ns.svc"],
    secret,
    certLifetime: { ms: 4_000 },
    checkIntervalMs: 200,
  });
  const [ca, cb] = await Promise.all([a.start(), b.start()]);
  t.after(() => {
    a.stop();
    b.stop();
  });
  assert.equal(ca.cert, cb.cert, "both replicas serve the same certificate");
  assert.equal(ca.caBundle, cb.caBundle);
  const stored = await admin.get(corev1.Secret, { namespace, name: "webhook-certs" });
  assert.equal(stored.type, "kubernetes.io/tls");
  assert.deepEqual(Object.keys(stored.data ?? {}).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
  const changed = await eventually("b to renew the certificate", () =>
    b.current().cert !== cb.cert ? b.current() : undefined,
  );
  const inSecret = await admin.get(corev1.Secret, { namespace, name: "webhook-certs" });
  assert.equal(Buffer.from(inSecret.data?.["tls.crt"] ?? "", "base64").toString(), changed.cert);
  assert.equal(changed.caBundle, cb.caBundle, "the CA stays");
});
