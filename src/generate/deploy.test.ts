import assert from "node:assert/strict";
import { test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { controller } from "../controller/builder.ts";
import { defineResource, Type } from "../definition/index.ts";
import { defineOperator } from "../operator/operator.ts";
import type * as appsv1 from "../types/generated/apps.v1.ts";
import type * as corev1 from "../types/generated/core.v1.ts";
import * as corev1Types from "../types/generated/core.v1.ts";
import type { KubeObject } from "../types/resource.ts";
import { chartFiles, makeChartGenerator, splitImage } from "./chart.ts";
import {
  bundleObjects,
  deployGenerator,
  deploymentObject,
  deploymentObjects,
  dockerfile,
  makeDeployGenerator,
} from "./deploy.ts";
import { contextFor, type GenerateContext } from "./generator.ts";

const Widget = defineResource({
  group: "test.converge.dev",
  kind: "Widget",
  versions: {
    v1: { spec: Type.Object({ size: Type.Integer({ minimum: 0 }) }), status: Type.Object({}) },
  },
});

const op = defineOperator({
  name: "widget-operator",
  version: "1.2.3",
  description: "Keeps widgets",
  definitions: [Widget],
  controllers: [
    controller("widget")
      .for(Widget)
      .owns(corev1Types.ConfigMap)
      .children(() => []),
  ],
});

const ctx = contextFor(op);

/** A stand-in for the RBAC generator's output, in its shape: names derived from the operator's. */
function rbacStandIn(c: GenerateContext): KubeObject[] {
  const labels = { "app.kubernetes.io/name": c.op.name, "app.kubernetes.io/managed-by": "converge" };
  const subjects = [{ kind: "ServiceAccount", name: c.op.name, namespace: c.namespace }];
  const rbac = "rbac.authorization.k8s.io";
  const rules = [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }];
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: c.op.name, namespace: c.namespace, labels } },
    { apiVersion: `${rbac}/v1`, kind: "ClusterRole", metadata: { name: `${c.op.name}-manager`, labels }, rules },
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: `${c.op.name}-manager`, labels: { ...labels, team: "widgets" } },
      roleRef: { apiGroup: rbac, kind: "ClusterRole", name: `${c.op.name}-manager` },
      subjects,
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: "Role",
      metadata: { name: `${c.op.name}-leader-election`, namespace: c.namespace, labels },
      rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: "RoleBinding",
      metadata: { name: `${c.op.name}-leader-election`, namespace: c.namespace, labels },
      roleRef: { apiGroup: rbac, kind: "Role", name: `${c.op.name}-leader-election` },
      subjects,
    },
  ] as KubeObject[];
}

function container(d: appsv1.Deployment): corev1.Container {
  const c = d.spec?.template.spec?.containers[0];
  assert.ok(c, "the Deployment has a container");
  return c;
}

const envOf = (d: appsv1.Deployment) => Object.fromEntries((container(d).env ?? []).map((e) => [e.name, e.value]));

test("the context: namespace <name>-system, image <name>:<version>", () => {
  assert.equal(ctx.namespace, "widget-operator-system");
  assert.equal(ctx.image, "widget-operator:1.2.3");
});

test("deploymentObjects: Namespace, the given RBAC, Deployment and metrics Service, in that order", () => {
  const rbac = rbacStandIn(ctx);
  const objects = deploymentObjects(ctx, rbac);
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata?.name}`),
    [
      "Namespace/widget-operator-system",
      ...rbac.map((o) => `${o.kind}/${o.metadata?.name}`),
      "Deployment/widget-operator",
      "Service/widget-operator-metrics",
    ],
  );
  for (const o of objects) {
    assert.equal(o.metadata?.labels?.["app.kubernetes.io/name"], "widget-operator", `${o.kind} name label`);
    assert.equal(o.metadata?.labels?.["app.kubernetes.io/managed-by"], "converge", `${o.kind} managed-by label`);
    if (o.kind !== "Namespace" && o.kind !== "ClusterRole" && o.kind !== "ClusterRoleBinding") {
      assert.equal(o.metadata?.namespace, ctx.namespace, `${o.kind} is in the operator's namespace`);
    }
  }
  assert.equal(objects[1], rbac[0], "the RBAC objects are passed through as they are");
});

test("the Deployment: one replica of the image, run as the ServiceAccount, ports, probes, resources", () => {
  const d = deploymentObject(ctx);
  assert.equal(d.spec?.replicas, 1);
  assert.deepEqual(d.spec?.selector.matchLabels, { "app.kubernetes.io/name": "widget-operator" });
  const podLabels = d.spec?.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(d.spec?.selector.matchLabels ?? {})) assert.equal(podLabels[k], v);
  assert.equal(d.spec?.template.spec?.serviceAccountName, "widget-operator");
  const c = container(d);
  assert.equal(c.name, "manager");
  assert.equal(c.image, "widget-operator:1.2.3");
  assert.equal(c.command, undefined, "the image's CMD runs the operator");
  assert.deepEqual(
    c.ports?.map((p) => [p.name, p.containerPort]),
    [
      ["metrics", 8080],
      ["probes", 8081],
    ],
  );
  assert.deepEqual(c.livenessProbe?.httpGet, { path: "/healthz", port: "probes" });
  assert.deepEqual(c.readinessProbe?.httpGet, { path: "/readyz", port: "probes" });
  assert.deepEqual(c.resources, {
    requests: { cpu: "10m", memory: "64Mi" },
    limits: { cpu: "500m", memory: "256Mi" },
  });
  assert.deepEqual(envOf(d), {
    CONVERGE_LOG_LEVEL: "info",
    CONVERGE_METRICS_ADDRESS: ":8080",
    CONVERGE_PROBE_ADDRESS: ":8081",
    CONVERGE_LEADER_ELECTION: "true",
  });
});

test("the security context meets the restricted Pod Security Standard", () => {
  const d = deploymentObject(ctx);
  const pod = d.spec?.template.spec;
  assert.equal(pod?.securityContext?.runAsNonRoot, true);
  assert.equal(pod?.securityContext?.seccompProfile?.type, "RuntimeDefault");
  const sc = container(d).securityContext;
  assert.equal(sc?.runAsNonRoot, true);
  assert.equal(sc?.readOnlyRootFilesystem, true);
  assert.equal(sc?.allowPrivilegeEscalation, false);
  assert.deepEqual(sc?.capabilities?.drop, ["ALL"]);
  assert.equal(sc?.seccompProfile?.type, "RuntimeDefault");
  assert.equal(sc?.privileged, undefined);
  assert.deepEqual(container(d).volumeMounts, [{ name: "tmp", mountPath: "/tmp" }], "a writable /tmp");
  const ns = deploymentObjects(ctx, [])[0];
  assert.equal(ns?.metadata?.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
});

test("leader election is on by default (CONVERGE_LEADER_ELECTION=true), even for one replica", () => {
  // A rolling update runs the new pod beside the old one: without a lease, both reconcile.
  assert.equal(envOf(deploymentObject(ctx)).CONVERGE_LEADER_ELECTION, "true");
  assert.equal(envOf(deploymentObject(ctx, { replicas: 1 })).CONVERGE_LEADER_ELECTION, "true");
  assert.equal(envOf(deploymentObject(ctx, { leaderElection: false })).CONVERGE_LEADER_ELECTION, undefined);
  const three = deploymentObject(ctx, { replicas: 3, logLevel: "debug" });
  assert.equal(three.spec?.replicas, 3);
  assert.equal(envOf(three).CONVERGE_LEADER_ELECTION, "true");
  assert.equal(envOf(three).CONVERGE_LOG_LEVEL, "debug");
  assert.throws(() => deploymentObject(ctx, { replicas: 1.5 }), /whole number/);
});

test("the metrics Service selects the operator's pods on the metrics port", () => {
  const svc = deploymentObjects(ctx, []).find((o) => o.kind === "Service") as corev1.Service;
  assert.deepEqual(svc.spec?.selector, { "app.kubernetes.io/name": "widget-operator" });
  assert.deepEqual(svc.spec?.ports, [{ name: "metrics", port: 8080, targetPort: "metrics", protocol: "TCP" }]);
});

test("the Dockerfile: multi-stage on node:24, production dependencies, a bundle, non-root, runs dist/main.js", () => {
  const text = dockerfile(ctx);
  const froms = text.match(/^FROM .*/gm) ?? [];
  assert.deepEqual(froms, ["FROM node:24-alpine AS deps", "FROM deps AS build", "FROM node:24-alpine"]);
  assert.match(text, /npm ci --omit=dev/);
  assert.match(text, /^COPY src \.\/src\nRUN npx converge build$/m);
  assert.match(text, /COPY --from=deps \/app\/node_modules/);
  assert.match(text, /^COPY --from=build \/app\/dist \.\/dist$/m);
  assert.match(text, /^USER 1000:1000$/m, "the node user, numerically");
  assert.ok(
    text
      .trimEnd()
      .endsWith('CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=30", "--max-opt=2", "dist/main.js"]'),
  );
  const user = text.indexOf("\nUSER ");
  assert.ok(user > text.lastIndexOf("\nFROM "), "the final stage runs as the user");
});

test("the deploy generator: manager.yaml, bundle.yaml with CRDs first, Dockerfile", async () => {
  const files = await makeDeployGenerator(rbacStandIn).generate(ctx);
  assert.deepEqual(
    files.map((f) => f.path),
    ["config/manager/manager.yaml", "config/bundle.yaml", "Dockerfile"],
  );
  const kinds = (path: string) =>
    parseAllDocuments(files.find((f) => f.path === path)?.content ?? "").map((d) => (d.toJS() as KubeObject).kind);
  assert.deepEqual(kinds("config/manager/manager.yaml"), ["Namespace", "Deployment", "Service"]);
  assert.deepEqual(kinds("config/bundle.yaml"), [
    "CustomResourceDefinition",
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Deployment",
    "Service",
  ]);
  assert.deepEqual(bundleObjects(ctx, [])[0], Widget.crd());
  // Without RBAC wired in, the bundle still has the ServiceAccount the Deployment runs as.
  const plain = await deployGenerator.generate(ctx);
  const bundle = parseAllDocuments(plain.find((f) => f.path === "config/bundle.yaml")?.content ?? "");
  assert.ok(bundle.some((d) => (d.toJS() as KubeObject).kind === "ServiceAccount"));
});

test("splitImage: repository, tag and digest of an image reference", () => {
  assert.deepEqual(splitImage("op:1.0"), { repository: "op", tag: "1.0", digest: "" });
  assert.deepEqual(splitImage("registry:5000/team/op"), { repository: "registry:5000/team/op", tag: "", digest: "" });
  assert.deepEqual(splitImage("registry:5000/op:v2"), { repository: "registry:5000/op", tag: "v2", digest: "" });
  assert.deepEqual(splitImage("ghcr.io/op@sha256:ab"), { repository: "ghcr.io/op", tag: "", digest: "sha256:ab" });
});

test("the chart: Chart.yaml, values, CRDs untemplated in crds/, templates in the release namespace", async () => {
  const files = await makeChartGenerator(rbacStandIn).generate(ctx);
  const byPath = new Map(files.map((f) => [f.path.replace("charts/widget-operator/", ""), f.content]));
  assert.deepEqual([...byPath.keys()].sort(), [
    ".helmignore",
    "Chart.yaml",
    "crds/test.converge.dev_widgets.yaml",
    "templates/NOTES.txt",
    "templates/_helpers.tpl",
    "templates/deployment.yaml",
    "templates/rbac.yaml",
    "templates/service.yaml",
    "templates/serviceaccount.yaml",
    "values.yaml",
  ]);
  assert.deepEqual(parse(byPath.get("Chart.yaml") ?? ""), {
    apiVersion: "v2",
    name: "widget-operator",
    description: "Keeps widgets",
    type: "application",
    version: "1.2.3",
    appVersion: "1.2.3",
    keywords: ["operator", "converge"],
  });
  const values = parse(byPath.get("values.yaml") ?? "");
  assert.deepEqual(values.image, { repository: "widget-operator", tag: "", digest: "", pullPolicy: "IfNotPresent" });
  assert.equal(values.replicaCount, 1);
  assert.deepEqual(values.leaderElection, { enabled: true }, "on by default, as kubebuilder's scaffold");
  assert.deepEqual(values.metrics, { enabled: true, port: 8080 });
  assert.deepEqual(values.serviceAccount, { create: true, name: "", annotations: {} });
  assert.equal(values.logLevel, "info");
  assert.deepEqual(values.resources.limits, { cpu: "500m", memory: "256Mi" });
  for (const key of ["nodeSelector", "tolerations", "affinity"]) assert.ok(key in values, key);

  const crd = byPath.get("crds/test.converge.dev_widgets.yaml") ?? "";
  assert.doesNotMatch(crd, /\{\{/, "crds/ is never templated");
  assert.deepEqual(parse(crd), Widget.crd());

  const rbac = byPath.get("templates/rbac.yaml") ?? "";
  assert.doesNotMatch(rbac, /^kind: ServiceAccount$/m, "the ServiceAccount has its own template");
  assert.doesNotMatch(rbac, /widget-operator-system/, "no fixed namespace");
  assert.match(rbac, /namespace: \{\{ \.Release\.Namespace \}\}/);
  assert.match(rbac, /name: \{\{ include "widget-operator\.fullname" \. \}\}-manager/);
  assert.match(rbac, /name: \{\{ include "widget-operator\.serviceAccountName" \. \}\}/);
  assert.match(rbac, /\{\{- include "widget-operator\.labels" \. \| nindent 4 \}\}\n {4}team: widgets/);
  for (const t of ["deployment.yaml", "service.yaml", "serviceaccount.yaml"]) {
    assert.match(byPath.get(`templates/${t}`) ?? "", /namespace: \{\{ \.Release\.Namespace \}\}/, t);
  }
  const deployment = byPath.get("templates/deployment.yaml") ?? "";
  assert.match(deployment, /CONVERGE_LEADER_ELECTION/);
  assert.match(deployment, /readOnlyRootFilesystem: true/);
  assert.match(byPath.get("templates/_helpers.tpl") ?? "", /gt \(int \.Values\.replicaCount\) 1/);
});

test("the chart escapes template braces that come from the RBAC objects", () => {
  const odd: KubeObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "other", annotations: { note: "{{ not a template }}" } },
  };
  const rbac = chartFiles(ctx, [odd]).find((f) => f.path.endsWith("templates/rbac.yaml"))?.content ?? "";
  assert.match(rbac, /note: "\{\{ "\{\{" \}\} not a template \}\}"/);
  assert.match(rbac, /name: other\n/, "names not derived from the operator's are kept");
});

test("an image with its own tag or a digest is kept in values.yaml", () => {
  const tagged = contextFor({ ...op, image: "ghcr.io/acme/widgets:edge" });
  const values = parse(chartFiles(tagged, []).find((f) => f.path.endsWith("values.yaml"))?.content ?? "");
  assert.deepEqual(values.image, {
    repository: "ghcr.io/acme/widgets",
    tag: "edge",
    digest: "",
    pullPolicy: "IfNotPresent",
  });
  const pinned = contextFor({ ...op, image: "ghcr.io/acme/widgets@sha256:0123" });
  const v2 = parse(chartFiles(pinned, []).find((f) => f.path.endsWith("values.yaml"))?.content ?? "");
  assert.equal(v2.image.digest, "sha256:0123");
});
