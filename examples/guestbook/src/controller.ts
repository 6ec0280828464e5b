import { appsv1, child, controller, type Desired, type Live } from "converge-sdk";
import { Guestbook } from "./api.ts";
import { Component } from "./imported/dapr.io_components.ts";

/** The guestbook web app's image: a frontend that keeps its entries through its Dapr sidecar. */
export const guestbookImage = "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5";

/** The names of a Guestbook's children: the reference material's `<name>-deployment` and `<name>-state`. */
export const childNames = (g: Live<Guestbook>) => ({
  deployment: `${g.metadata.name}-deployment`,
  component: `${g.metadata.name}-state`,
});

/**
 * The Deployment a Guestbook wants: `spec.replicas` pods labelled `app: <name>`, annotated so that Dapr's sidecar
 * injector adds a sidecar that serves them as app `spec.daprAppId`. Only these fields are owned: anything another
 * controller adds (Dapr's own annotations, an HPA's replicas on other fields) is left alone.
 */
export function deploymentFor(g: Live<Guestbook>): Desired<appsv1.Deployment> {
  const labels = { app: g.metadata.name };
  return {
    metadata: { name: childNames(g).deployment, labels },
    spec: {
      replicas: g.spec.replicas ?? 1,
      selector: { matchLabels: labels },
      template: {
        metadata: {
          labels,
          annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": g.spec.daprAppId },
        },
        spec: {
          containers: [{ name: "guestbook", image: guestbookImage, ports: [{ name: "http", containerPort: 80 }] }],
        },
      },
    },
  };
}

/**
 * The Dapr Component a Guestbook wants: an in-memory state store, usable only by the guestbook's own app id
 * (`scopes`), so that other Dapr apps in the namespace do not see it.
 */
export function componentFor(g: Live<Guestbook>): Desired<Component> {
  return {
    metadata: { name: childNames(g).component },
    spec: { type: "state.in-memory", version: "v1", metadata: [] },
    scopes: [g.spec.daprAppId],
  };
}

/**
 * Guestbook → its Deployment and its Dapr state store, declared as children: Converge applies them (writing nothing
 * when they are already right), puts them back when they are edited or deleted by hand, reports Ready / Progressing /
 * Degraded on the Guestbook (Ready once every pod of the Deployment is), and deletes both when the Guestbook goes.
 * The Component's kind is Dapr's, typed by `converge import` from its CRD.
 */
export const guestbookController = controller("guestbook")
  .for(Guestbook)
  // Declared so that the generated RBAC covers both kinds and their caches are warm from the start.
  .owns(appsv1.Deployment)
  .owns(Component)
  .children((g) => [
    child(Component, componentFor(g), { id: "state" }),
    // The app reads its state store at start-up: the store comes first.
    child(appsv1.Deployment, deploymentFor(g), { id: "app", dependsOn: ["state"] }),
  ]);
