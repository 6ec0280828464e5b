/**
 * Installs the Guestbook CRD into the cluster of the current KUBECONFIG (e.g. one from `converge cluster up`) and
 * runs the operator until Ctrl-C. Dapr's Component CRD comes with Dapr, not with this operator: until it is there,
 * the guestbook controller waits for the kind (and /readyz says so), then starts by itself.
 */
import { Client, isNotFound, runOperator } from "converge-sdk";
import { Component } from "./imported/dapr.io_components.ts";
import operator from "./operator.ts";

const client = await Client.connect();
const daprServed = await client.list(Component, { limit: 1 }).then(
  () => true,
  (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
);
await client.close();
if (!daprServed) {
  console.error(
    "this cluster does not serve dapr.io/v1alpha1 Components yet: the guestbook controller waits until it does.\n" +
      "Install Dapr, or only its CRD:\n" +
      "  kubectl apply --server-side -f https://raw.githubusercontent.com/dapr/dapr/v1.18.3/charts/dapr/crds/components.yaml",
  );
}

console.error(`running ${operator.name} against the current KUBECONFIG (Ctrl-C stops it)`);
await runOperator(operator, { installCrds: true });
