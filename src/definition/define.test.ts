import assert from "node:assert/strict";
import { test } from "node:test";
import { defineResource, Type } from "./index.ts";
import { cel, embeddedResource, intOrString, listMap, preserveUnknown, SchemaError, toStructural } from "./schema.ts";

const Memcached = defineResource({
  group: "cache.example.com",
  kind: "Memcached",
  shortNames: ["mc"],
  description: "A memcached cluster",
  versions: {
    v1alpha1: {
      spec: Type.Object({
        size: Type.Integer({ minimum: 1, description: "pods", ...cel("self <= 10", "size must be at most 10") }),
        version: Type.String({ minLength: 1 }),
        mode: Type.Optional(Type.Union([Type.Literal("fast"), Type.Literal("safe")])),
        port: Type.Optional(intOrString()),
        extra: Type.Optional(preserveUnknown()),
        template: Type.Optional(embeddedResource()),
        labels: Type.Optional(Type.Record(Type.String(), Type.String())),
        members: Type.Optional(
          Type.Array(Type.Object({ name: Type.String(), weight: Type.Number() }), listMap("name")),
        ),
      }),
      status: Type.Object({ nodes: Type.Optional(Type.Array(Type.String())) }),
      printerColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }],
      scale: { specReplicasPath: ".spec.size", statusReplicasPath: ".status.replicas" },
    },
  },
});

test("a definition is the storage version's ResourceType, with a structural CRD", () => {
  assert.equal(Memcached.apiVersion, "cache.example.com/v1alpha1");
  assert.equal(Memcached.plural, "memcacheds");
  assert.deepEqual(Memcached.subresources, { status: true, scale: true });
  const crd = Memcached.crd();
  assert.equal(crd.metadata?.name, "memcacheds.cache.example.com");
  assert.deepEqual(crd.spec.names.shortNames, ["mc"]);
  const v = crd.spec.versions[0];
  assert.equal(v?.storage, true);
  assert.deepEqual(v?.subresources?.scale, { specReplicasPath: ".spec.size", statusReplicasPath: ".status.replicas" });
  const spec = v?.schema?.openAPIV3Schema?.properties?.spec;
  assert.deepEqual(spec?.required, ["size", "version"]);
  assert.deepEqual(spec?.properties?.size?.["x-kubernetes-validations"], [
    { rule: "self <= 10", message: "size must be at most 10" },
  ]);
  assert.deepEqual(spec?.properties?.mode, { type: "string", enum: ["fast", "safe"] });
  assert.deepEqual(spec?.properties?.port, { "x-kubernetes-int-or-string": true });
  assert.deepEqual(spec?.properties?.labels?.additionalProperties, { type: "string" });
  assert.equal(spec?.properties?.members?.["x-kubernetes-list-type"], "map");
  assert.equal(spec?.properties?.template?.["x-kubernetes-embedded-resource"], true);
  assert.equal(v?.additionalPrinterColumns?.[0]?.jsonPath, ".spec.size");
  assert.equal(JSON.stringify(crd).includes("patternProperties"), false);
});

test("client-side validation reports field paths like the apiserver's", () => {
  assert.deepEqual(Memcached.validate({ spec: { size: 3, version: "1.6" } }), []);
  const errors = Memcached.validate({ spec: { size: 0, members: [{ name: "a", weight: "x" }] } });
  const fields = errors.map((e) => e.field);
  assert.ok(fields.includes("spec"), fields.join(",")); // version is required
  assert.ok(fields.includes("spec.size"));
  assert.ok(fields.includes("spec.members[0].weight"));
  assert.deepEqual(Memcached.validate({}), [{ field: "spec", message: "Required value" }]);
});

test("schemas the apiserver would reject are refused, naming the definition and the field", () => {
  const where = "Thing (example.com) v1";
  assert.throws(
    () => toStructural(Type.Object({ a: Type.Any() }), where),
    (e: Error) => {
      assert.ok(e instanceof SchemaError);
      assert.match(e.message, /^Thing \(example.com\) v1: a: the schema has no type/);
      return true;
    },
  );
  assert.throws(
    () => toStructural(Type.Object({ b: Type.Union([Type.String(), Type.Object({ c: Type.String() })]) }), where),
    /b: a union of different shapes is not a structural schema/,
  );
  assert.throws(
    () => toStructural(Type.Object({ t: Type.Tuple([Type.String()]) }), where),
    /t: tuples are not supported/,
  );
  assert.throws(
    () =>
      defineResource({
        group: "example.com",
        kind: "Two",
        versions: { v1: { spec: Type.Object({}) }, v2: { spec: Type.Object({}) } },
      }),
    /several versions: say which is the storage version/,
  );
  assert.throws(
    () => defineResource({ group: "example.com", kind: "Bad", versions: { version1: { spec: Type.Object({}) } } }),
    /not a Kubernetes version name/,
  );
});

test("several versions, one stored", () => {
  const Thing = defineResource({
    group: "example.com",
    kind: "Thing",
    storage: "v1",
    versions: {
      v1beta1: { spec: Type.Object({ a: Type.String() }), deprecated: "use v1" },
      v1: { spec: Type.Object({ a: Type.String(), b: Type.Optional(Type.Integer()) }) },
    },
  });
  assert.equal(Thing.version, "v1");
  assert.equal(Thing.versions.v1beta1.apiVersion, "example.com/v1beta1");
  const versions = Thing.crd().spec.versions;
  assert.deepEqual(
    versions.map((v) => [v.name, v.storage, v.deprecated ?? false]),
    [
      ["v1beta1", false, true],
      ["v1", true, false],
    ],
  );
  assert.equal(versions[0]?.deprecationWarning, "use v1");
  // The static type follows the schema.
  const t: import("./define.ts").ObjectOfVersion<"Thing", typeof Thing.init.versions.v1> = { spec: { a: "x", b: 1 } };
  assert.equal(t.spec.b, 1);
});

test("top-level fields, an optional spec, nullable and int-or-string unions, value validations, exclusive bounds", () => {
  const Component = defineResource({
    group: "example.com",
    kind: "Component",
    versions: {
      v1: {
        description: "A component.",
        fields: {
          kind: Type.Optional(Type.String({ description: "The kind." })),
          metadata: Type.Object({}),
          scopes: Type.Optional(Type.Array(Type.String())),
        },
        spec: Type.Optional(
          Type.Object(
            {
              port: Type.Union([Type.Integer(), Type.String()], { "x-kubernetes-int-or-string": true }),
              nickname: Type.Optional(Type.Union([Type.String({ description: "or null" }), Type.Null()])),
              ratio: Type.Optional(Type.Number({ exclusiveMaximum: 1, minimum: 0 })),
              a: Type.Optional(Type.String()),
              b: Type.Optional(Type.String()),
            },
            { oneOf: [{ required: ["a"] }, { required: ["b"] }] },
          ),
        ),
      },
    },
  });
  const schema = Component.crd().spec.versions[0]?.schema?.openAPIV3Schema;
  assert.equal(schema?.description, "A component.");
  assert.deepEqual(schema?.required, ["metadata"]); // the spec is optional
  assert.deepEqual(schema?.properties?.kind, { type: "string", description: "The kind." });
  assert.deepEqual(schema?.properties?.scopes, { type: "array", items: { type: "string" } });
  const spec = schema?.properties?.spec;
  assert.deepEqual(spec?.properties?.port, {
    anyOf: [{ type: "integer" }, { type: "string" }],
    "x-kubernetes-int-or-string": true,
  });
  assert.deepEqual(spec?.properties?.nickname, { type: "string", description: "or null", nullable: true });
  assert.deepEqual(spec?.properties?.ratio, { type: "number", maximum: 1, exclusiveMaximum: true, minimum: 0 });
  assert.deepEqual(spec?.oneOf, [{ required: ["a"] }, { required: ["b"] }]);

  const valid = { metadata: {}, scopes: ["x"], spec: { port: "http", nickname: null, a: "a" } };
  assert.deepEqual(Component.validate(valid), []);
  assert.deepEqual(Component.validate({ metadata: {} }), []);
  const fields = (obj: unknown) => [...new Set(Component.validate(obj).map((e) => e.field))];
  assert.deepEqual(fields({ spec: valid.spec }), ["metadata"]);
  assert.deepEqual(fields({ ...valid, scopes: [1] }), ["scopes[0]"]);
  assert.deepEqual(fields({ ...valid, spec: { ...valid.spec, ratio: 1 } }), ["spec.ratio"]);
  assert.deepEqual(fields({ ...valid, spec: { port: 1, a: "a", b: "b" } }), ["spec"]);
  // The static type: spec optional, fields typed beside it, metadata still ObjectMeta.
  const c: import("../types/resource.ts").ObjectOf<typeof Component> = { metadata: { name: "c" }, scopes: ["x"] };
  assert.equal(c.spec?.port, undefined);
});
