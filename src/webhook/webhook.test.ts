import assert from "node:assert/strict";
import { test } from "node:test";
import { applyJsonPatch, type PatchOperation } from "../client/patch.ts";
import { defineResource, Type } from "../definition/index.ts";
import type { ObjectOf } from "../types/resource.ts";
import { allow, deny, mutatingWebhook, validatingWebhook } from "./admission.ts";
import { convertReview, defineConversion, stash, stashAnnotation, unstash } from "./conversion.ts";
import { BadReviewError, readAdmissionReview, readConversionReview } from "./review.ts";

const Gizmo = defineResource({
  group: "unit.converge.dev",
  kind: "Gizmo",
  storage: "v1",
  versions: {
    v1alpha1: { spec: Type.Object({ size: Type.Integer(), color: Type.Optional(Type.String()) }) },
    v1: {
      spec: Type.Object({
        replicas: Type.Integer(),
        look: Type.Optional(Type.Object({ color: Type.String() })),
        tier: Type.Optional(Type.String()),
      }),
    },
  },
});
type Gizmo = ObjectOf<typeof Gizmo>;

const request = (object: unknown, extra: Record<string, unknown> = {}) => ({
  uid: "u1",
  kind: { group: "unit.converge.dev", version: "v1", kind: "Gizmo" },
  resource: { group: "unit.converge.dev", version: "v1", resource: "gizmos" },
  operation: "CREATE" as const,
  userInfo: { username: "alice" },
  object: object as Gizmo,
  ...extra,
});

test("validating webhook: typed request in, allowed / denied with causes and warnings out", async () => {
  const seen: Array<{ op: string; user?: string; dry: boolean; replicas?: number }> = [];
  const w = validatingWebhook(Gizmo, {
    validate: (r) => {
      seen.push({ op: r.operation, user: r.userInfo.username, dry: r.dryRun, replicas: r.object?.spec.replicas });
      const replicas = r.object?.spec.replicas ?? 0;
      if (replicas > 10) return deny("too many", [{ field: "spec.replicas", message: "at most 10" }]);
      return replicas === 0 ? allow("zero replicas: nothing will run") : allow();
    },
  });
  assert.equal(w.path, "/validate-unit-converge-dev-v1-gizmo");
  assert.equal(w.name, "vgizmo.unit.converge.dev");
  const ok = await w.review(request({ spec: { replicas: 1 } }, { dryRun: true }));
  assert.deepEqual(ok, { uid: "u1", allowed: true });
  const warned = await w.review(request({ spec: { replicas: 0 } }));
  assert.deepEqual(warned.warnings, ["zero replicas: nothing will run"]);
  const denied = await w.review(request({ spec: { replicas: 11 } }));
  assert.equal(denied.allowed, false);
  assert.equal(denied.status?.code, 403);
  assert.equal(denied.status?.message, "too many (spec.replicas: at most 10)");
  assert.deepEqual(denied.status?.details?.causes, [
    { field: "spec.replicas", message: "at most 10", reason: "FieldValueInvalid" },
  ]);
  assert.deepEqual(seen[0], { op: "CREATE", user: "alice", dry: true, replicas: 1 });
  const crashed = await validatingWebhook(Gizmo, {
    validate: () => {
      throw new Error("boom");
    },
  }).review(request({ spec: { replicas: 1 } }));
  assert.equal(crashed.allowed, false, "a handler that throws denies (fail closed)");
  assert.match(crashed.status?.message ?? "", /boom/);
  assert.throws(() => validatingWebhook(Gizmo, { name: "short.name", validate: () => allow() }), /three segments/);
});

test("mutating webhook: the returned object becomes a JSON patch; no change, no patch", async () => {
  const w = mutatingWebhook(Gizmo, {
    mutate: (g) => {
      g.spec.tier ??= "standard";
      return g;
    },
  });
  const original = { apiVersion: "unit.converge.dev/v1", kind: "Gizmo", spec: { replicas: 1 } };
  const res = await w.review(request(original));
  assert.equal(res.patchType, "JSONPatch");
  const ops = JSON.parse(Buffer.from(res.patch ?? "", "base64").toString()) as PatchOperation[];
  assert.deepEqual(ops, [{ op: "add", path: "/spec/tier", value: "standard" }]);
  assert.deepEqual(applyJsonPatch(original, ops).spec, { replicas: 1, tier: "standard" });
  const unchanged = await w.review(request({ spec: { replicas: 1, tier: "gold" } }));
  assert.equal(unchanged.patch, undefined);
  const wrapped = await mutatingWebhook(Gizmo, {
    mutate: (g) => ({ object: { ...g, spec: { ...g.spec, replicas: 2 } }, warnings: ["raised to 2"] }),
  }).review(request({ spec: { replicas: 1 } }));
  assert.deepEqual(wrapped.warnings, ["raised to 2"]);
  const refused = await mutatingWebhook(Gizmo, { mutate: () => deny("no") }).review(request({ spec: { replicas: 1 } }));
  assert.equal(refused.allowed, false);
});

const conversion = defineConversion(Gizmo, {
  hub: "v1",
  spokes: {
    v1alpha1: {
      toHub: (o) => {
        const { object, data } = unstash<{ tier?: string }, typeof o>(o);
        return {
          ...object,
          spec: {
            replicas: o.spec.size,
            ...(o.spec.color ? { look: { color: o.spec.color } } : {}),
            ...(data?.tier ? { tier: data.tier } : {}),
          },
        } as Gizmo;
      },
      fromHub: (o) =>
        stash(
          { ...o, spec: { size: o.spec.replicas, ...(o.spec.look ? { color: o.spec.look.color } : {}) } },
          o.spec.tier ? { tier: o.spec.tier } : {},
        ),
    },
  },
});

test("conversion through the hub: a round trip loses no field", () => {
  const v1 = {
    apiVersion: "unit.converge.dev/v1",
    kind: "Gizmo",
    metadata: { name: "g", namespace: "n", uid: "1", labels: { a: "b" } },
    spec: { replicas: 3, look: { color: "red" }, tier: "gold" },
  };
  const down = conversion.convert(v1, "unit.converge.dev/v1alpha1");
  assert.equal(down.apiVersion, "unit.converge.dev/v1alpha1");
  assert.deepEqual((down as { spec: unknown }).spec, { size: 3, color: "red" });
  assert.ok(down.metadata?.annotations?.[stashAnnotation]);
  const back = conversion.convert(down, "unit.converge.dev/v1");
  assert.deepEqual(back, v1);
  assert.equal(conversion.convert(v1, "unit.converge.dev/v1"), v1, "same version: unchanged");
  assert.throws(() => conversion.convert(v1, "unit.converge.dev/v2"), /cannot convert unit.converge.dev\/v2/);

  const review = convertReview([conversion], {
    uid: "r",
    desiredAPIVersion: "unit.converge.dev/v1alpha1",
    objects: [v1, { ...v1, apiVersion: "other.dev/v1" }],
  });
  assert.equal(review.result.status, "Failure");
  assert.match(review.result.message ?? "", /objects\[1\] g: no conversion for Gizmo.other.dev/);
  const good = convertReview([conversion], {
    uid: "r",
    desiredAPIVersion: "unit.converge.dev/v1alpha1",
    objects: [v1],
  });
  assert.equal(good.result.status, "Success");
  assert.equal(good.convertedObjects.length, 1);
});

test("reviews: a malformed body names the field that is wrong", () => {
  const bad = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof BadReviewError && re.test(e.message));
  bad(() => readAdmissionReview([]), /expected a JSON object/);
  bad(
    () => readAdmissionReview({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview" }),
    /expected apiVersion/,
  );
  bad(() => readAdmissionReview({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), /request: Required/);
  bad(
    () => readAdmissionReview({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "x" } }),
    /request.operation/,
  );
  bad(
    () =>
      readConversionReview({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        request: { uid: "x", desiredAPIVersion: "a/v1", objects: [{ kind: "K" }] },
      }),
    /request.objects\[0\].apiVersion/,
  );
});
