import assert from "node:assert/strict";
import { test } from "node:test";
import { eventually, testPlane } from "../../src/testing/index.ts";

const plane = await testPlane();

interface Item {
  metadata: { name: string; ownerReferences?: Array<{ kind: string; name: string }> };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
  spec?: { nodeName?: string };
}

const list = async (path: string): Promise<Item[]> => (await plane.http.expectOk<{ items: Item[] }>("GET", path)).items;
const ready = (p: Item) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

test("a Deployment gets a ReplicaSet and Ready pods on the fake node; deleting it garbage-collects both", async (t) => {
  const ns = await plane.namespace(t);
  await plane.http.expectOk("POST", `/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27" }] } },
    },
  });

  const pods = await eventually("3 Ready pods", async () => {
    const items = await list(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
    return items.length === 3 && items.every(ready) ? items : undefined;
  });
  for (const pod of pods) {
    assert.equal(pod.status?.phase, "Running");
    assert.equal(pod.spec?.nodeName, "converge-node-0");
    assert.equal(pod.metadata.ownerReferences?.[0]?.kind, "ReplicaSet");
  }
  const replicaSets = await list(`/apis/apps/v1/namespaces/${ns}/replicasets`);
  assert.equal(replicaSets.length, 1);
  assert.deepEqual(
    replicaSets[0]?.metadata.ownerReferences?.map((o) => [o.kind, o.name]),
    [["Deployment", "web"]],
  );
  const deployment = await eventually("Deployment status availableReplicas=3", async () => {
    const d = await plane.http.expectOk<{ status?: { availableReplicas?: number } }>(
      "GET",
      `/apis/apps/v1/namespaces/${ns}/deployments/web`,
    );
    return d.status?.availableReplicas === 3 ? d : undefined;
  });
  assert.equal(deployment.status?.availableReplicas, 3);

  await plane.http.expectOk("DELETE", `/apis/apps/v1/namespaces/${ns}/deployments/web`, {
    kind: "DeleteOptions",
    apiVersion: "v1",
    propagationPolicy: "Background",
  });
  await eventually("the ReplicaSet and pods to be garbage-collected", async () => {
    const [rs, ps] = await Promise.all([
      list(`/apis/apps/v1/namespaces/${ns}/replicasets`),
      list(`/api/v1/namespaces/${ns}/pods`),
    ]);
    return rs.length === 0 && ps.length === 0 ? true : undefined;
  });
});

test("a PersistentVolumeClaim on the default kwok-volume class gets bound", async (t) => {
  const ns = await plane.namespace(t);
  await plane.http.expectOk("POST", `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data" },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  const pvc = await eventually("the claim to be Bound", async () => {
    const c = await plane.http.expectOk<Item & { spec: { storageClassName?: string } }>(
      "GET",
      `/api/v1/namespaces/${ns}/persistentvolumeclaims/data`,
    );
    return c.status?.phase === "Bound" ? c : undefined;
  });
  assert.equal(pvc.spec.storageClassName, "kwok-volume");
});
