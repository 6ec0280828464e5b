import { type KubeObject, type metav1, resourceType } from "converge";

/** apps.example.com/v1alpha1 HelloWorld: `spec.name` becomes the message of a ConfigMap of the same name. */
export interface HelloWorld extends KubeObject {
  apiVersion?: "apps.example.com/v1alpha1";
  kind?: "HelloWorld";
  metadata?: metav1.ObjectMeta;
  spec: { name: string };
  status?: { conditions?: metav1.Condition[] };
}

export const HelloWorld = resourceType<HelloWorld>({
  group: "apps.example.com",
  version: "v1alpha1",
  kind: "HelloWorld",
  plural: "helloworlds",
  namespaced: true,
  subresources: { status: true },
});
