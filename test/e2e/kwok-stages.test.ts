/**
 * The plane's own kwok stage (src/cluster/stages.ts): a pod annotated `kwok.converge.dev/hold: "true"` stays
 * Pending and never ready, beside a pod without it that kwok makes ready as always; the held pod still goes away
 * when deleted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, isNotFound } from "../../src/client/index.ts";
import { holdAnnotation } from "../../src/cluster/index.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import { corev1 } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig });
test.after(() => client.close());

const pod = (namespace: string, name: string, annotations: Record<string, string> = {}): corev1.Pod => ({
  metadata: { name, namespace, annotations },
  spec: { containers: [{ name: "c", image: "busybox" }] },
});

test("a pod annotated to be held stays Pending and unready; others become ready; deletion still removes it", async (t) => {
  const namespace = await plane.namespace(t);
  await client.create(corev1.Pod, pod(namespace, "held", { [holdAnnotation]: "true" }));
  await client.create(corev1.Pod, pod(namespace, "free"));
  await eventually("the free pod to be ready", async () => {
    const p = await client.get(corev1.Pod, { namespace, name: "free" });
    return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  });
  const held = await eventually("the held pod to be scheduled", async () => {
    const p = await client.get(corev1.Pod, { namespace, name: "held" });
    return p.spec?.nodeName ? p : undefined;
  });
  // kwok acts on a pod within milliseconds of seeing it; the free pod (created after) is ready by now.
  await new Promise((r) => setTimeout(r, 1_000));
  const still = await client.get(corev1.Pod, { namespace, name: "held" });
  assert.equal(still.status?.phase, "Pending");
  assert.ok(!still.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
  assert.equal(still.metadata?.uid, held.metadata?.uid);
  await client.delete(corev1.Pod, { namespace, name: "held" });
  await eventually("the held pod to be gone", () =>
    client.get(corev1.Pod, { namespace, name: "held" }).then(
      () => false,
      (err: unknown) => isNotFound(err),
    ),
  );
});
