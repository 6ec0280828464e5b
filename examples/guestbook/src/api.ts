import { conditions, defineResource, type ObjectOf, Type } from "converge-sdk";

/**
 * app.example.com/v1alpha1 Guestbook: a guestbook web app run with a Dapr sidecar. `spec.replicas` pods of it (a
 * Deployment `<name>-deployment` whose pods Dapr injects as app `spec.daprAppId`) and the in-memory state store it
 * keeps its entries in (a Dapr Component `<name>-state`). The group, kind and field names are the reference
 * material's, so its sample objects apply unchanged.
 */
export const Guestbook = defineResource({
  group: "app.example.com",
  kind: "Guestbook",
  description: "Guestbook runs a guestbook app with a Dapr sidecar and the Dapr state store it keeps its entries in.",
  versions: {
    v1alpha1: {
      spec: Type.Object({
        replicas: Type.Optional(
          Type.Integer({
            minimum: 0,
            default: 1,
            description: "How many pods of the guestbook app run (the Deployment's replicas).",
          }),
        ),
        daprAppId: Type.String({
          minLength: 1,
          maxLength: 63,
          description:
            "The Dapr app id of the guestbook's pods (their dapr.io/app-id annotation); the state store is scoped to it.",
        }),
      }),
      status: Type.Object({
        conditions: Type.Optional(
          conditions({
            description: "Ready, Progressing and Degraded, derived from the Deployment and the Component.",
          }),
        ),
      }),
      printerColumns: [
        { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
        { name: "App ID", type: "string", jsonPath: ".spec.daprAppId" },
        { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  },
});

/** A Guestbook object, as the client and cache return it. */
export type Guestbook = ObjectOf<typeof Guestbook>;
