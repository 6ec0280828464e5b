/**
 * A kind the apiserver does not serve (its CRD not installed yet) does not take the operator down: the controllers
 * that need it wait, say so on /readyz, in a metric and in the log, the others run, and once the CRD is installed
 * the waiting ones start without a restart. A kind declared optional does not hold its controller back.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { Client } from "../../src/client/index.ts";
import { controller, createLogger } from "../../src/controller/index.ts";
import { defineResource, Type } from "../../src/definition/index.ts";
import { Manager } from "../../src/manager/index.ts";
import { waitForCrds } from "../../src/operator/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import { apiextensionsv1, corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "unserved-test" });
test.after(() => client.close());

test("a controller whose kinds are not served waits for their CRD; the others run; it starts once installed", async (t) => {
  const namespace = await plane.namespace(t);
  // A group of this run only: no other test installs it, so it is surely not served when the manager starts.
  const group = `late${process.pid}.example.com`;
  const Late = defineResource({
    group,
    kind: "Late",
    versions: { v1: { spec: Type.Object({ message: Type.String() }) } },
  });
  const Extra = defineResource({
    group,
    kind: "Extra",
    versions: { v1: { spec: Type.Object({}) } },
  });
  t.after(async () => {
    for (const d of [Late, Extra]) {
      await client
        .delete(apiextensionsv1.CustomResourceDefinition, d.crd().metadata?.name ?? "")
        .catch(() => undefined);
    }
  });

  const seen = { configMaps: new Set<string>(), lates: new Set<string>(), withOptional: new Set<string>() };
  const lines: string[] = [];
  const mgrClient = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "unserved-operator" });
  const manager = await Manager.create({
    name: "unserved-test",
    client: mgrClient,
    namespace,
    log: createLogger({
      level: "info",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    }),
    metricsAddress: "127.0.0.1:0",
    probeAddress: "127.0.0.1:0",
    // Short enough that a manager waiting on the unserved kind's sync would fail this test.
    cacheSyncTimeoutMs: 5_000,
  });
  manager.add(
    controller("plain")
      .for(corev1.ConfigMap)
      .reconcileKey(async (req) => {
        seen.configMaps.add(req.name);
      }),
  );
  manager.add(
    controller("late")
      .for(Late)
      .owns(corev1.ConfigMap)
      .reconcileKey(async (req) => {
        seen.lates.add(req.name);
      }),
  );
  manager.add(
    controller("optional")
      .for(corev1.Secret)
      .owns(Extra, { optional: true })
      .reconcileKey(async (req) => {
        seen.withOptional.add(req.name);
      }),
  );
  const running = manager.start();
  let failed: Error | undefined;
  running.catch((err: Error) => {
    failed = err;
  });
  t.after(async () => {
    await manager.stop();
    await running.catch(() => undefined);
    await mgrClient.close();
  });
  await manager.whenLeading();

  await client.create(corev1.ConfigMap, { metadata: { name: "first", namespace } });
  await client.create(corev1.Secret, { metadata: { name: "first", namespace } });
  await eventually("the controller with served kinds to run", () => seen.configMaps.has("first"));
  await eventually("the controller with an optional unserved kind to run", () => seen.withOptional.has("first"));

  const readyz = await fetch(`http://${manager.addresses.probes}/readyz`);
  const body = await readyz.text();
  assert.equal(readyz.status, 500, body);
  assert.match(
    body,
    new RegExp(`\\[-\\]controller/late: waiting for Late \\(${group.replaceAll(".", "\\.")}/v1\\) to be served`),
  );
  assert.doesNotMatch(
    body,
    /controller\/plain|controller\/optional|\[-\]informers/,
    "only the waiting controller fails",
  );
  const metrics = async () => await (await fetch(`http://${manager.addresses.metrics}/metrics`)).text();
  assert.match(await metrics(), /converge_controller_waiting_kinds\{controller="late"\} 1/);
  assert.match(await metrics(), /converge_controller_waiting_kinds\{controller="plain"\} 0/);
  assert.ok(
    lines.some(
      (l) => l.includes("waiting for kinds the apiserver does not serve yet") && l.includes(`Late (${group}/v1)`),
    ),
    "the log says which controller waits for what",
  );

  // Well past the cache sync timeout: the manager is still up.
  await new Promise((r) => setTimeout(r, 6_000));
  assert.equal(failed, undefined, "the manager keeps running while a kind is not served");

  const crd = Late.crd();
  await client.apply(apiextensionsv1.CustomResourceDefinition, crd, { force: true, fieldManager: "unserved-test" });
  await waitForCrds(client, [crd.metadata?.name ?? ""]);
  await client.create(Late, { metadata: { name: "arrived", namespace }, spec: { message: "hi" } });
  await eventually("the waiting controller to start once its kind is served", () => seen.lates.has("arrived"));
  await eventually(
    "/readyz to pass",
    async () => (await fetch(`http://${manager.addresses.probes}/readyz`)).status === 200,
  );
  assert.match(await metrics(), /converge_controller_waiting_kinds\{controller="late"\} 0/);
  assert.equal(failed, undefined);
});
