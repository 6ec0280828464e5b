import { cel, conditions, defineResource, type ObjectOf, Type } from "converge-sdk";

/**
 * apps.example.com/v1alpha1 HelloWorld: `spec.name` becomes the message of a ConfigMap of the same name. This one
 * definition gives the TypeScript type, the CRD (`npm run generate` writes config/crd/), and validation.
 */
export const HelloWorld = defineResource({
  group: "apps.example.com",
  kind: "HelloWorld",
  description: "HelloWorld greets spec.name through a ConfigMap of the same name.",
  versions: {
    v1alpha1: {
      spec: Type.Object({
        name: Type.String({
          minLength: 1,
          description: "Who to greet; copied to the ConfigMap's data.message.",
          ...cel("self != 'nobody'", "spec.name must name somebody"),
        }),
      }),
      status: Type.Object({
        conditions: Type.Optional(
          conditions({ description: "Ready, Progressing and Degraded, derived from the ConfigMap." }),
        ),
      }),
      printerColumns: [
        { name: "Greets", type: "string", jsonPath: ".spec.name" },
        { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  },
});

/** A HelloWorld object, as the client and cache return it. */
export type HelloWorld = ObjectOf<typeof HelloWorld>;
