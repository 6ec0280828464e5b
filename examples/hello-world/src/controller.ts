import { controller, corev1, deepEqual, setControllerReference } from "converge";
import { HelloWorld } from "./api.ts";

/**
 * HelloWorld → a ConfigMap named after it with `data.message = spec.name`. The ConfigMap is owned by the
 * HelloWorld, so deleting the HelloWorld deletes it (garbage collection), and changing or deleting the ConfigMap
 * by hand is repaired. Nothing is written when the ConfigMap is already right.
 */
export const helloWorldController = () =>
  controller("helloworld")
    .for(HelloWorld)
    .owns(corev1.ConfigMap)
    .reconcile(async (req, { object: hello, cache, client, log }) => {
      if (!hello) return; // deleted: the garbage collector removes the ConfigMap
      const desired: corev1.ConfigMap = setControllerReference(hello, {
        metadata: { name: req.name, namespace: req.namespace },
        data: { message: hello.spec.name },
      });
      const current = cache.get(corev1.ConfigMap, req);
      if (!current || !deepEqual(current.data, desired.data) || !current.metadata?.ownerReferences?.length) {
        await client.apply(corev1.ConfigMap, desired, { force: true });
        log.info({ message: hello.spec.name }, current ? "updated ConfigMap" : "created ConfigMap");
      }
      if (hello.status?.observedGeneration !== hello.metadata?.generation) {
        await client.patch(
          HelloWorld,
          req,
          "merge",
          { status: { observedGeneration: hello.metadata?.generation } },
          { subresource: "status" },
        );
      }
    });
