import { child, controller, corev1 } from "converge-sdk";
import { HelloWorld } from "./api.ts";

/**
 * HelloWorld → a ConfigMap named after it with `data.message = spec.name`. Declared as the HelloWorld's child:
 * Converge applies it (and nothing when it is already right), puts it back when it is edited or deleted by hand,
 * reports Ready/Progressing/Degraded on the HelloWorld, and deletes it when the HelloWorld is deleted.
 */
export const helloWorldController = controller("helloworld")
  .for(HelloWorld)
  .owns(corev1.ConfigMap) // declared, so that RBAC is generated for it and its cache is warm from the start
  .children((hello) => [
    child(corev1.ConfigMap, { metadata: { name: hello.metadata.name }, data: { message: hello.spec.name } }),
  ]);
