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
import { Client } from "../../src/client/index.ts";
import { FaultProxy, testPlane } from "../../src/testing/index.ts";
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
