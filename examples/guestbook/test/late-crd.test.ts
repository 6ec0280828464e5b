/**
 * The Guestbook operator started before Dapr is installed, on a plane of its own (the shared test plane serves
 * Dapr's Component already): the guestbook controller waits for the Component kind and says so on /readyz, the
 * manager's other controllers run, nothing exits, and when Dapr's CRD is installed a minute later the sample
 * converges without a restart.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { apiextensionsv1, appsv1, Client, controller, corev1, installCrds } from "converge-sdk";
import { ControlPlane } from "converge-sdk/cluster";
import { createOperatorManager, waitForCrds } from "converge-sdk/runtime";
import { eventually, silentLogger } from "converge-sdk/testing";
import { parse } from "yaml";
import type { Guestbook } from "../src/api.ts";
import { Guestbook as GuestbookType } from "../src/api.ts";
import operator from "../src/operator.ts";

const project = fileURLToPath(new URL("..", import.meta.url));
const daprCrdFile = join(project, "..", "..", "third_party", "crds", "dapr.io_components.yaml");

test("started before Dapr's CRD exists, the operator waits for it and converges once it is installed", async (t) => {
  const plane = await ControlPlane.start({ name: "guestbook-late", mode: "full" });
  t.after(() => plane.stop());
  const client = await Client.connect({ kubeconfig: plane.kubeconfigPath, fieldManager: "guestbook-late-test" });
  t.after(() => client.close());
  await installCrds(client, operator);

  const others = new Set<string>();
  const manager = await createOperatorManager(operator, {
    client,
    log: silentLogger,
    probeAddress: "127.0.0.1:0",
    // Well under the minute below: waiting for an unserved kind must not count against it.
    cacheSyncTimeoutMs: 10_000,
  });
  manager.add(
    controller("others")
      .for(corev1.ConfigMap)
      .reconcileKey(async (req) => {
        others.add(`${req.namespace}/${req.name}`);
      }),
  );
  let failure: Error | undefined;
  const running = manager.start();
  running.catch((err: Error) => {
    failure = err;
  });
  t.after(async () => {
    await manager.stop();
    await running.catch(() => undefined);
  });
  await manager.whenLeading();

  const sample = parse(
    await readFile(join(project, "config", "samples", "app_v1alpha1_guestbook.yaml"), "utf8"),
  ) as Guestbook;
  const namespace = sample.metadata?.namespace ?? "default";
  await client.create(GuestbookType, { ...sample, metadata: { ...sample.metadata, namespace } });
  await client.create(corev1.ConfigMap, { metadata: { name: "meanwhile", namespace } });
  await eventually("the manager's other controller to run", () => others.has(`${namespace}/meanwhile`));

  const readyz = async () => {
    const res = await fetch(`http://${manager.addresses.probes}/readyz`);
    return { status: res.status, body: await res.text() };
  };
  const waiting = await readyz();
  assert.equal(waiting.status, 500);
  assert.match(waiting.body, /\[-\]controller\/guestbook: waiting for Component \(dapr\.io\/v1alpha1\) to be served/);

  await new Promise((r) => setTimeout(r, 60_000));
  assert.equal(failure, undefined, "the manager is still running a minute later");
  assert.equal((await readyz()).status, 500, "and still says what it waits for");

  const daprCrd = parse(await readFile(daprCrdFile, "utf8")) as apiextensionsv1.CustomResourceDefinition;
  await client.apply(apiextensionsv1.CustomResourceDefinition, daprCrd, { force: true, fieldManager: "dapr" });
  await waitForCrds(client, ["components.dapr.io"]);
  const installed = Date.now();

  const name = sample.metadata?.name ?? "";
  const converged = await eventually(
    "the sample to converge (Ready, with every pod of its Deployment Ready)",
    async () => {
      const g = await client.get(GuestbookType, { namespace, name });
      const d = await client.get(appsv1.Deployment, { namespace, name: `${name}-deployment` }).catch(() => undefined);
      const ready = g.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      return ready && (d?.status?.readyReplicas ?? 0) === (sample.spec.replicas ?? 1) ? g : undefined;
    },
    60_000,
  );
  assert.ok(converged);
  t.diagnostic(`converged ${((Date.now() - installed) / 1000).toFixed(1)} s after Dapr's CRD was installed`);
  assert.equal((await readyz()).status, 200);
  assert.equal(failure, undefined);
});
