import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { controller } from "../controller/builder.ts";
import { defineResource, Type } from "../definition/index.ts";
import type { OperatorDefinition } from "../operator/operator.ts";
import { appsv1, corev1, type rbacv1 } from "../types/index.ts";
import { contextFor } from "./generator.ts";
import { leaderElectionRules, rbacGenerator, rbacObjects, rulesFor } from "./rbac.ts";

const Widget = defineResource({
  group: "shop.example.com",
  kind: "Widget",
  versions: {
    v1: { spec: Type.Object({ size: Type.Integer() }), status: Type.Object({ ready: Type.Optional(Type.Boolean()) }) },
  },
});

/** No status: no status subresource, so no status rule. Cluster-scoped. */
const Gadget = defineResource({
  group: "shop.example.com",
  kind: "Gadget",
  scope: "Cluster",
  versions: { v1: { spec: Type.Object({ color: Type.String() }) } },
});

/** Defined by the operator, reconciled by no controller. */
const Catalog = defineResource({
  group: "catalog.example.com",
  kind: "Catalog",
  versions: { v1: { spec: Type.Object({ items: Type.Array(Type.String()) }) } },
});

const widgets = controller("widget")
  .for(Widget)
  .owns(corev1.ConfigMap)
  .children(() => []);

const all = ["create", "delete", "get", "list", "patch", "update", "watch"];
const events = { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] };

function operator(over: Partial<OperatorDefinition> = {}): OperatorDefinition {
  return { name: "shop-operator", definitions: [Widget], controllers: [widgets], ...over };
}

test("a controller's for() kind, owned kinds and events make the rules", () => {
  assert.deepEqual(rulesFor(operator()), [
    { apiGroups: [""], resources: ["configmaps"], verbs: all },
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    { apiGroups: ["shop.example.com"], resources: ["widgets"], verbs: ["get", "list", "patch", "update", "watch"] },
    { apiGroups: ["shop.example.com"], resources: ["widgets/finalizers"], verbs: ["update"] },
    { apiGroups: ["shop.example.com"], resources: ["widgets/status"], verbs: ["get", "patch", "update"] },
  ]);
});

test("no status rule without a status subresource; watched kinds and defined-only kinds are only read", () => {
  const gadgets = controller("gadget")
    .for(Gadget)
    .watches(appsv1.Deployment, () => [])
    .reconcile(async () => undefined);
  const rules = rulesFor(operator({ definitions: [Gadget, Catalog], controllers: [gadgets] }));
  assert.deepEqual(rules, [
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["catalog.example.com"], resources: ["catalogs"], verbs: ["get", "list", "watch"] },
    events,
    { apiGroups: ["shop.example.com"], resources: ["gadgets"], verbs: ["get", "list", "patch", "update", "watch"] },
    { apiGroups: ["shop.example.com"], resources: ["gadgets/finalizers"], verbs: ["update"] },
  ]);
  assert.ok(!rules.some((r) => r.resources?.includes("gadgets/status")));
});

test("rules merge by apiGroup and resource: one rule per kind, verbs united, same verbs share a rule", () => {
  // widget owns ConfigMaps; configs reconciles ConfigMaps (for) and owns Secrets and ConfigMaps (of other parents).
  const configs = controller("configs")
    .for(corev1.ConfigMap)
    .owns(corev1.Secret)
    .owns(corev1.ConfigMap)
    .reconcile(async () => undefined);
  const twice = controller("widget-2")
    .for(Widget)
    .owns(corev1.ConfigMap)
    .owns(appsv1.Deployment)
    .reconcile(async () => undefined);
  const rules = rulesFor(operator({ controllers: [widgets, configs, twice] }));
  assert.deepEqual(rules, [
    // configmaps and secrets have the same verbs (the union for configmaps), so they share one rule.
    { apiGroups: [""], resources: ["configmaps", "secrets"], verbs: all },
    // a status subresource and finalizers of a built-in for() kind too.
    { apiGroups: [""], resources: ["configmaps/finalizers"], verbs: ["update"] },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: all },
    events,
    { apiGroups: ["shop.example.com"], resources: ["widgets"], verbs: ["get", "list", "patch", "update", "watch"] },
    { apiGroups: ["shop.example.com"], resources: ["widgets/finalizers"], verbs: ["update"] },
    { apiGroups: ["shop.example.com"], resources: ["widgets/status"], verbs: ["get", "patch", "update"] },
  ]);
  // Every (apiGroup, resource) pair appears once.
  const pairs = rules.flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).map((x) => `${g}/${x}`)));
  assert.equal(new Set(pairs).size, pairs.length);
});

test("rules are deterministic: the same whatever the order of controllers and definitions", () => {
  const deployments = controller("deployments")
    .for(appsv1.Deployment)
    .owns(corev1.Service)
    .watches(corev1.Secret, () => [])
    .reconcile(async () => undefined);
  const a = widgets;
  const b = deployments;
  const one = rulesFor(operator({ definitions: [Widget, Catalog], controllers: [a, b] }));
  const two = rulesFor(operator({ definitions: [Catalog, Widget], controllers: [b, a] }));
  assert.equal(JSON.stringify(two), JSON.stringify(one));
  // deployments: for() (with status) and owned services/watched secrets; sorted within each rule.
  assert.deepEqual(
    one.filter((r) => r.apiGroups?.[0] === "apps"),
    [
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "patch", "update", "watch"] },
      { apiGroups: ["apps"], resources: ["deployments/finalizers"], verbs: ["update"] },
      { apiGroups: ["apps"], resources: ["deployments/status"], verbs: ["get", "patch", "update"] },
    ],
  );
  for (const r of one) {
    assert.deepEqual(r.verbs, [...r.verbs].sort(), "verbs sorted");
    assert.deepEqual(r.resources, [...(r.resources ?? [])].sort(), "resources sorted");
  }
  // The files are byte-identical too.
  const ctx = contextFor(operator({ controllers: [a, b] }));
  assert.equal(
    (rbacGenerator.generate(ctx) as { content: string }[])[0]?.content,
    (rbacGenerator.generate(contextFor(operator({ controllers: [b, a] }))) as { content: string }[])[0]?.content,
  );
});

test("extraRules merge into the generated rules; rules with resourceNames or nonResourceURLs stay whole", () => {
  const extraRules: rbacv1.PolicyRule[] = [
    // adds a verb to an existing resource and a new resource in two groups at once
    { apiGroups: ["", "apps"], resources: ["configmaps", "replicasets"], verbs: ["deletecollection", "get"] },
    // a duplicate of what is generated changes nothing
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["patch"] },
    // kept as they are (sorted), deduplicated
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["tls", "creds"], verbs: ["get"] },
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["creds", "tls"], verbs: ["get"] },
    { nonResourceURLs: ["/metrics"], verbs: ["get"] },
    // "*" stands for every verb
    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "*"] },
  ];
  assert.deepEqual(rulesFor(operator({ extraRules })), [
    { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "delete", "deletecollection", ...all.slice(2)] },
    { apiGroups: [""], resources: ["replicasets"], verbs: ["deletecollection", "get"] },
    // a rule grants every apiGroup × resource pair it names, so apps/configmaps too
    { apiGroups: ["apps"], resources: ["configmaps", "replicasets"], verbs: ["deletecollection", "get"] },
    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["*"] },
    events,
    { apiGroups: ["shop.example.com"], resources: ["widgets"], verbs: ["get", "list", "patch", "update", "watch"] },
    { apiGroups: ["shop.example.com"], resources: ["widgets/finalizers"], verbs: ["update"] },
    { apiGroups: ["shop.example.com"], resources: ["widgets/status"], verbs: ["get", "patch", "update"] },
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["creds", "tls"], verbs: ["get"] },
    { nonResourceURLs: ["/metrics"], verbs: ["get"] },
  ]);
  // The operator's own rules are not modified.
  assert.deepEqual(extraRules[2]?.resourceNames, ["tls", "creds"]);
});

test("rbacObjects: a ServiceAccount, a ClusterRole with the rules and a Role for the lease, each bound to it", () => {
  const op = operator({ namespace: "shop" });
  const objects = rbacObjects(contextFor(op));
  assert.deepEqual(
    objects.map((o) => `${o.kind} ${o.metadata?.namespace ?? "-"}/${o.metadata?.name}`),
    [
      "ServiceAccount shop/shop-operator",
      "ClusterRole -/shop-operator-manager",
      "ClusterRoleBinding -/shop-operator-manager",
      "Role shop/shop-operator-leader-election",
      "RoleBinding shop/shop-operator-leader-election",
    ],
  );
  for (const o of objects) {
    assert.deepEqual(o.metadata?.labels, {
      "app.kubernetes.io/name": "shop-operator",
      "app.kubernetes.io/managed-by": "converge",
    });
  }
  const [sa, clusterRole, clusterRoleBinding, role, roleBinding] = objects as [
    corev1.ServiceAccount,
    rbacv1.ClusterRole,
    rbacv1.ClusterRoleBinding,
    rbacv1.Role,
    rbacv1.RoleBinding,
  ];
  assert.equal(sa.apiVersion, "v1");
  assert.deepEqual(clusterRole.rules, rulesFor(op));
  const subject = { kind: "ServiceAccount", name: "shop-operator", namespace: "shop" };
  assert.deepEqual(clusterRoleBinding.subjects, [subject]);
  assert.deepEqual(clusterRoleBinding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "shop-operator-manager",
  });
  assert.deepEqual(role.rules, [
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    },
  ]);
  assert.deepEqual(role.rules, leaderElectionRules);
  assert.deepEqual(roleBinding.subjects, [subject]);
  assert.deepEqual(roleBinding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "Role",
    name: "shop-operator-leader-election",
  });
  // Leases are not in the ClusterRole, nor other namespaces' anything in the Role.
  assert.ok(!clusterRole.rules?.some((r) => r.resources?.includes("leases")));
  // Default namespace: <name>-system.
  assert.equal(rbacObjects(contextFor(operator()))[0]?.metadata?.namespace, "shop-operator-system");
});

test("rbacGenerator writes config/rbac/rbac.yaml with the objects", async () => {
  const ctx = contextFor(operator());
  const files = await rbacGenerator.generate(ctx);
  assert.equal(rbacGenerator.name, "rbac");
  assert.deepEqual(
    files.map((f) => f.path),
    ["config/rbac/rbac.yaml"],
  );
  const content = files[0]?.content ?? "";
  assert.match(content, /^# Generated by `converge generate`/);
  const docs = parseAllDocuments(content).map((d) => d.toJS());
  assert.deepEqual(docs, rbacObjects(ctx));
});
