import assert from "node:assert/strict";
import { test } from "node:test";
import { testPlane } from "../../src/testing/index.ts";

const plane = await testPlane();

const crd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.substrate.converge.dev" },
  spec: {
    group: "substrate.converge.dev",
    names: { kind: "Widget", plural: "widgets", singular: "widget", listKind: "WidgetList" },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["version", "size"],
                properties: {
                  version: { type: "string" },
                  size: { type: "integer", minimum: 0 },
                },
                "x-kubernetes-validations": [{ rule: "self.size < 10", message: "size must stay below 10" }],
              },
              status: { type: "object", properties: { ready: { type: "boolean" } } },
            },
          },
        },
      },
    ],
  },
};

interface Status {
  message: string;
  reason: string;
  details?: { causes?: Array<{ field: string; reason: string; message: string }> };
}

test("a CRD with a structural schema is served and validates objects with field paths", async (t) => {
  const ns = await plane.namespace(t);
  await plane.http.expectOk("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  t.after(() =>
    plane.http.request("DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`),
  );

  const base = `/apis/substrate.converge.dev/v1/namespaces/${ns}/widgets`;
  // A new CRD becomes served asynchronously (Established condition); poll until the resource answers.
  for (let i = 0; ; i++) {
    const res = await plane.http.request("GET", base);
    if (res.status === 200) break;
    assert.ok(i < 100, `widgets were never served: HTTP ${res.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const good = {
    apiVersion: "substrate.converge.dev/v1",
    kind: "Widget",
    metadata: { name: "good" },
    spec: { version: "1", size: 3 },
  };
  const created = await plane.http.expectOk<{ spec: { size: number } }>("POST", base, good);
  assert.equal(created.spec.size, 3);

  const missing = await plane.http.request<Status>("POST", base, {
    ...good,
    metadata: { name: "missing" },
    spec: { size: 1 },
  });
  assert.equal(missing.status, 422);
  assert.equal(missing.body.reason, "Invalid");
  assert.match(missing.body.message, /spec\.version: Required value/);
  assert.ok(missing.body.details?.causes?.some((c) => c.field === "spec.version" && c.reason === "FieldValueRequired"));

  const tooSmall = await plane.http.request<Status>("POST", base, {
    ...good,
    metadata: { name: "negative" },
    spec: { version: "1", size: -1 },
  });
  assert.equal(tooSmall.status, 422);
  assert.match(
    tooSmall.body.message,
    /spec\.size: Invalid value: -1: spec\.size in body should be greater than or equal to 0/,
  );

  const cel = await plane.http.request<Status>("POST", base, {
    ...good,
    metadata: { name: "big" },
    spec: { version: "1", size: 12 },
  });
  assert.equal(cel.status, 422);
  assert.match(cel.body.message, /spec: Invalid value: .*size must stay below 10/);
});
