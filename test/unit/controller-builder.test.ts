/**
 * What the controller builder promises at compile time (checked by `tsc -p .`, which type-checks this file) and
 * at run time: a child kind not declared with owns() does not compile in ctx.apply, a live object's metadata needs
 * no `?.`, and a definition is immutable and free of running state.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { controller } from "../../src/controller/builder.ts";
import { conditions, defineResource, Type } from "../../src/definition/index.ts";
import { appsv1, corev1 } from "../../src/types/index.ts";

const Widget = defineResource({
  group: "test.converge.dev",
  kind: "Widget",
  versions: {
    v1: {
      spec: Type.Object({ size: Type.Integer() }),
      status: Type.Object({ ready: Type.Optional(Type.Boolean()), conditions: Type.Optional(conditions()) }),
    },
  },
});

const Galaxy = defineResource({
  group: "test.converge.dev",
  kind: "Galaxy",
  scope: "Cluster",
  versions: { v1: { spec: Type.Object({}) } },
});

test("ctx.apply takes only the kinds declared with owns(); a live object's name, uid and namespace are strings", () => {
  const definition = controller("widget")
    .for(Widget)
    .owns(appsv1.Deployment)
    .reconcile(async (widget, ctx) => {
      const name: string = widget.metadata.name;
      const namespace: string = widget.metadata.namespace;
      const uid: string = widget.metadata.uid;
      const generation: number = widget.metadata.generation;
      await ctx.apply(appsv1.Deployment, { metadata: { name }, spec: { replicas: widget.spec.size } });
      // @ts-expect-error: ConfigMaps are not declared with owns()
      await ctx.apply(corev1.ConfigMap, { metadata: { name } });
      await ctx.status((status, conds) => {
        status.ready = true;
        conds.set("Ready", true, "Done", `${namespace}/${uid} at ${generation}`);
        // @ts-expect-error: not a field of the status
        status.unknown = 1;
      });
    });
  assert.deepEqual(
    definition.watchedTypes.map((w) => `${w.role} ${w.type.kind}`),
    ["for Widget", "owns Deployment"],
  );
});

test("a cluster-scoped kind's live objects have no namespace", () => {
  controller("galaxy")
    .for(Galaxy)
    .reconcile((galaxy) => {
      const namespace: undefined = galaxy.metadata.namespace;
      assert.equal(namespace, undefined);
    });
});

test("a controller with no owns() applies nothing", () => {
  controller("bare")
    .for(Widget)
    .reconcile(async (widget, ctx) => {
      // @ts-expect-error: nothing is declared with owns()
      await ctx.apply(appsv1.Deployment, { metadata: { name: widget.metadata.name } });
    });
});

test("definitions are immutable: every builder step returns a new builder, and the result is frozen", () => {
  const base = controller("shared").for(Widget);
  const withDeployments = base.owns(appsv1.Deployment);
  const a = base.reconcile(() => undefined);
  const b = withDeployments.reconcile(() => undefined);
  assert.equal(a.sources.length, 0, "owns() on a later builder did not change the earlier one");
  assert.equal(b.sources.length, 1);
  assert.ok(Object.isFrozen(a));
  assert.notEqual(a.instantiate(), a.instantiate(), "each manager gets its own running state");
  assert.throws(() => controller("Bad Name"), /lower-case/);
  assert.throws(() => base.for(Widget), /for\(\) was already called/);
});
