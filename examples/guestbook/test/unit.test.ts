/** Fast checks without a cluster: the children a Guestbook wants, its schema, and the operator on the fake client. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appsv1, isNotFound, type Live, Manager } from "converge-sdk";
import { eventually, FakeClient, silentLogger } from "converge-sdk/testing";
import { Guestbook } from "../src/api.ts";
import { componentFor, deploymentFor, guestbookController } from "../src/controller.ts";
import { Component } from "../src/imported/dapr.io_components.ts";
import operator from "../src/operator.ts";

const guestbook = (spec: Partial<Guestbook["spec"]>): Live<Guestbook, true> => ({
  apiVersion: Guestbook.apiVersion,
  kind: "Guestbook",
  metadata: { name: "gb", namespace: "ns", uid: "u", resourceVersion: "1", generation: 1 },
  spec: { daprAppId: "guestbook", ...spec },
});

test("the Deployment: <name>-deployment, replicas (default 1), app label, Dapr annotations", () => {
  const d = deploymentFor(guestbook({ replicas: 2 }));
  assert.equal(d.metadata.name, "gb-deployment");
  assert.equal(d.spec?.replicas, 2);
  assert.deepEqual(d.spec?.selector?.matchLabels, { app: "gb" });
  assert.deepEqual(d.spec?.template?.metadata?.labels, { app: "gb" });
  assert.deepEqual(d.spec?.template?.metadata?.annotations, {
    "dapr.io/enabled": "true",
    "dapr.io/app-id": "guestbook",
  });
  assert.equal(d.spec?.template?.spec?.containers?.length, 1);
  assert.equal(deploymentFor(guestbook({})).spec?.replicas, 1);
});

test("the Component: <name>-state, an in-memory state store scoped to the app id, valid for Dapr's schema", () => {
  const c = componentFor(guestbook({ daprAppId: "visitors" }));
  assert.equal(c.metadata.name, "gb-state");
  assert.deepEqual(c.spec, { type: "state.in-memory", version: "v1", metadata: [] });
  assert.deepEqual(c.scopes, ["visitors"]);
  assert.deepEqual(Component.validate({ apiVersion: Component.apiVersion, kind: "Component", ...c }), []);
});

test("the schema: daprAppId required and non-empty, replicas not negative; Dapr's CRD is not the operator's", () => {
  assert.deepEqual(Guestbook.validate({ spec: { daprAppId: "guestbook", replicas: 2 } }), []);
  assert.deepEqual(
    Guestbook.validate({ spec: { daprAppId: "" } }).map((e) => e.field),
    ["spec.daprAppId"],
  );
  assert.deepEqual(
    Guestbook.validate({ spec: { daprAppId: "x", replicas: -1 } }).map((e) => e.field),
    ["spec.replicas"],
  );
  const replicas = Guestbook.crd().spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec?.properties?.replicas;
  assert.equal(replicas?.default, 1);
  assert.deepEqual(
    operator.definitions.map((d) => d.crd().metadata?.name),
    ["guestbooks.app.example.com"],
  );
});

test("on the fake client: create, update, repair and delete", async () => {
  const client = new FakeClient();
  const manager = await Manager.create({ name: "guestbook-operator", client, log: silentLogger });
  manager.add(guestbookController);
  const running = manager.start();
  try {
    await client.create(Guestbook, { metadata: { name: "gb", namespace: "ns" }, spec: { daprAppId: "guestbook" } });
    const c = await eventually("the Component", () => client.get(Component, { namespace: "ns", name: "gb-state" }));
    assert.equal(c.metadata?.ownerReferences?.[0]?.kind, "Guestbook");
    const d = await eventually("the Deployment", () =>
      client.get(appsv1.Deployment, { namespace: "ns", name: "gb-deployment" }),
    );
    assert.equal(d.metadata?.ownerReferences?.[0]?.kind, "Guestbook");

    await client.patch(Guestbook, { namespace: "ns", name: "gb" }, "merge", { spec: { replicas: 3 } });
    await eventually("3 replicas", async () => {
      const x = await client.get(appsv1.Deployment, { namespace: "ns", name: "gb-deployment" });
      return x.spec?.replicas === 3;
    });

    await client.delete(Component, { namespace: "ns", name: "gb-state" });
    await eventually("the Component back", () => client.get(Component, { namespace: "ns", name: "gb-state" }));

    await client.delete(Guestbook, { namespace: "ns", name: "gb" });
    const key = (name: string) => ({ namespace: "ns", name });
    for (const [what, get] of [
      ["the Guestbook", () => client.get(Guestbook, key("gb"))],
      ["the Component", () => client.get(Component, key("gb-state"))],
      ["the Deployment", () => client.get(appsv1.Deployment, key("gb-deployment"))],
    ] as const) {
      await eventually(`${what} to be gone`, () =>
        get().then(
          () => undefined,
          (e: unknown) => isNotFound(e),
        ),
      );
    }
  } finally {
    await manager.stop();
    await running;
  }
});
