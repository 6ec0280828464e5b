import { defineResource, type ObjectOf, Type } from "converge-sdk";

/** What a SimpleApp runs when its spec does not say: the apiserver fills these in, and the code falls back to them. */
export const defaults = { replicas: 1, image: "nginx:latest" } as const;

/**
 * example.com/v1 SimpleApp: `spec.replicas` copies of `spec.image`, run by a Deployment of the same name. This one
 * definition gives the TypeScript type, the CRD (`npm run generate` writes config/crd/) and validation.
 */
export const SimpleApp = defineResource({
  group: "example.com",
  kind: "SimpleApp",
  description: "SimpleApp runs spec.replicas copies of spec.image through a Deployment of the same name.",
  versions: {
    v1: {
      spec: Type.Object({
        replicas: Type.Optional(
          Type.Integer({
            minimum: 0,
            format: "int32",
            default: defaults.replicas,
            description: "How many pods the Deployment runs.",
          }),
        ),
        image: Type.Optional(
          Type.String({
            minLength: 1,
            default: defaults.image,
            description: "The container image of the Deployment's one container.",
          }),
        ),
      }),
      // The name becomes the Deployment's `app` label, and label values are at most 63 characters.
      validations: [
        {
          rule: "size(self.metadata.name) <= 63",
          message: "metadata.name must be at most 63 characters: it is the Deployment's app label",
        },
      ],
      printerColumns: [
        { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
        { name: "Image", type: "string", jsonPath: ".spec.image" },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  },
});

/** A SimpleApp object, as the client and cache return it. */
export type SimpleApp = ObjectOf<typeof SimpleApp>;
