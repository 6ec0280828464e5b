/**
 * The HelloWorld operator's deployment artifacts against the real tools: its Helm chart passes `helm lint` and
 * renders with `helm template`, and every object of the chart and of the raw `config/bundle.yaml` is accepted
 * by the apiserver (server-side apply, dry run, strict field validation).
 */
import assert from "node:assert/strict";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { parseAllDocuments } from "yaml";
import helloWorld from "../../examples/hello-world/src/operator.ts";
import { Client, isNotFound } from "../../src/client/index.ts";
import { makeChartGenerator } from "../../src/generate/chart.ts";
import { makeDeployGenerator } from "../../src/generate/deploy.ts";
import { contextFor, type GenerateContext, type GeneratedFile } from "../../src/generate/generator.ts";
import { testPlane } from "../../src/testing/index.ts";
import { apiextensionsv1, appsv1, corev1, type KubeObject, type ResourceType, rbacv1 } from "../../src/types/index.ts";
import { helmBinary, runHelm } from "./fixtures/helm.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "chart-test" });
after(() => client.close());

// Built from Go modules the first time (about a minute and a half); cached afterwards.
await helmBinary();

/** The RBAC generator's output in its shape (this test does not depend on that generator). */
function rbacStandIn(ctx: GenerateContext): KubeObject[] {
  const { name } = ctx.op;
  const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "converge" };
  const rbac = "rbac.authorization.k8s.io";
  const subjects = [{ kind: "ServiceAccount", name, namespace: ctx.namespace }];
  const sa: corev1.ServiceAccount = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name, namespace: ctx.namespace, labels },
  };
  const clusterRole: rbacv1.ClusterRole = {
    apiVersion: `${rbac}/v1`,
    kind: "ClusterRole",
    metadata: { name: `${name}-manager`, labels },
    rules: [
      { apiGroups: ["apps.example.com"], resources: ["helloworlds"], verbs: ["get", "list", "watch", "patch"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
    ],
  };
  const clusterRoleBinding: rbacv1.ClusterRoleBinding = {
    apiVersion: `${rbac}/v1`,
    kind: "ClusterRoleBinding",
    metadata: { name: `${name}-manager`, labels },
    roleRef: { apiGroup: rbac, kind: "ClusterRole", name: `${name}-manager` },
    subjects,
  };
  const role: rbacv1.Role = {
    apiVersion: `${rbac}/v1`,
    kind: "Role",
    metadata: { name: `${name}-leader-election`, namespace: ctx.namespace, labels },
    rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }],
  };
  const roleBinding: rbacv1.RoleBinding = {
    apiVersion: `${rbac}/v1`,
    kind: "RoleBinding",
    metadata: { name: `${name}-leader-election`, namespace: ctx.namespace, labels },
    roleRef: { apiGroup: rbac, kind: "Role", name: `${name}-leader-election` },
    subjects,
  };
  return [sa, clusterRole, clusterRoleBinding, role, roleBinding];
}

/** The kinds the artifacts contain, by `apiVersion/kind`. */
const resourceTypes = new Map<string, ResourceType>(
  [
    corev1.Namespace,
    corev1.ServiceAccount,
    corev1.Service,
    appsv1.Deployment,
    rbacv1.ClusterRole,
    rbacv1.ClusterRoleBinding,
    rbacv1.Role,
    rbacv1.RoleBinding,
    apiextensionsv1.CustomResourceDefinition,
  ].map((t): [string, ResourceType] => [`${t.apiVersion}/${t.kind}`, t]),
);

function typeOf(obj: KubeObject): ResourceType {
  const type = resourceTypes.get(`${obj.apiVersion}/${obj.kind}`);
  if (!type) throw new Error(`no ResourceType for ${obj.apiVersion} ${obj.kind}`);
  return type;
}

/** Server-side apply with dryRun: the apiserver validates (schema, strict fields, admission) and stores nothing. */
async function dryRunApply(objects: KubeObject[]): Promise<void> {
  for (const obj of objects) {
    const what = `${obj.kind} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}`;
    const type = typeOf(obj);
    const applied = await client
      .apply(type, obj, { dryRun: true, force: true, fieldManager: "chart-test", fieldValidation: "Strict" })
      .catch((err: Error) => assert.fail(`${what} was rejected: ${err.message}`));
    assert.equal(applied.kind, obj.kind, what);
    assert.equal(applied.metadata?.name, obj.metadata?.name, what);
  }
}

const parseObjects = (text: string): KubeObject[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);

async function writeFiles(root: string, files: GeneratedFile[]): Promise<void> {
  for (const f of files) {
    await mkdir(dirname(join(root, f.path)), { recursive: true });
    await writeFile(join(root, f.path), f.content);
  }
}

let work = "";
let chartDir = "";
const ctx = contextFor(helloWorld);

/** Runs helm with its own config/cache/data folders, and the plane as its cluster; never throws. */
const helm = (args: string[]) => runHelm(args, { home: work, kubeconfig: plane.kubeconfig });

before(async () => {
  work = await mkdtemp(join(tmpdir(), "converge-chart-"));
  await writeFiles(work, await makeChartGenerator(rbacStandIn).generate(ctx));
  chartDir = join(work, "charts", helloWorld.name);
});
after(() => rm(work, { recursive: true, force: true }));

test("helm lint passes the HelloWorld chart (strict: no errors, no warnings)", async () => {
  for (const extra of [
    [],
    ["--set", "replicaCount=3"],
    ["--set", "metrics.enabled=false,serviceAccount.create=false"],
  ]) {
    const { code, stdout, stderr } = await helm(["lint", "--strict", chartDir, ...extra]);
    const output = `${stdout}${stderr}`;
    assert.equal(code, 0, output);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.doesNotMatch(output, /\[(ERROR|WARNING)\]/);
  }
});

test("helm template: the Deployment and RBAC in the release namespace, the CRD only in crds/", async (t) => {
  const ns = await plane.namespace(t);
  const { code, stdout, stderr } = await helm(["template", helloWorld.name, chartDir, "--namespace", ns]);
  assert.equal(code, 0, stderr);
  const objects = parseObjects(stdout);
  const kinds = objects.map((o) => o.kind).sort();
  assert.deepEqual(kinds, [
    "ClusterRole",
    "ClusterRoleBinding",
    "Deployment",
    "Role",
    "RoleBinding",
    "Service",
    "ServiceAccount",
  ]);

  // The CRD is not a template: Helm installs crds/ before the templates and `helm template` leaves it out.
  assert.ok(!objects.some((o) => o.kind === "CustomResourceDefinition"));
  const crdFile = join(chartDir, "crds", "apps.example.com_helloworlds.yaml");
  await access(crdFile);
  const [crd] = parseObjects(await readFile(crdFile, "utf8"));
  assert.equal(crd?.metadata?.name, "helloworlds.apps.example.com");
  const withCrds = await helm(["template", helloWorld.name, chartDir, "--namespace", ns, "--include-crds"]);
  assert.ok(parseObjects(withCrds.stdout).some((o) => o.kind === "CustomResourceDefinition"));

  const clusterScoped = new Set(["ClusterRole", "ClusterRoleBinding"]);
  for (const o of objects) {
    const where = clusterScoped.has(o.kind ?? "") ? undefined : ns;
    assert.equal(o.metadata?.namespace, where, `${o.kind} ${o.metadata?.name}`);
    assert.equal(o.metadata?.labels?.["app.kubernetes.io/name"], helloWorld.name);
    assert.equal(o.metadata?.labels?.["app.kubernetes.io/managed-by"], "Helm");
  }
  const sa = objects.find((o) => o.kind === "ServiceAccount");
  for (const binding of objects.filter((o) => o.kind?.endsWith("Binding")) as rbacv1.RoleBinding[]) {
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: sa?.metadata?.name, namespace: ns }]);
  }
  const deployment = objects.find((o) => o.kind === "Deployment") as appsv1.Deployment;
  assert.equal(deployment.metadata?.name, helloWorld.name);
  const pod = deployment.spec?.template.spec;
  assert.equal(pod?.serviceAccountName, sa?.metadata?.name);
  assert.equal(pod?.containers[0]?.image, "hello-world-operator:0.1.0");
  assert.equal(pod?.containers[0]?.securityContext?.readOnlyRootFilesystem, true);

  await dryRunApply(objects);
  // Dry run: nothing was stored.
  await assert.rejects(client.get(appsv1.Deployment, { namespace: ns, name: helloWorld.name }), isNotFound);
});

test("helm template turns leader election on by default, with one replica, and grants the Lease", async (t) => {
  const ns = await plane.namespace(t);
  const rendered = async (...set: string[]) => {
    const { code, stdout, stderr } = await helm(["template", "hello", chartDir, "--namespace", ns, ...set]);
    assert.equal(code, 0, stderr);
    return parseObjects(stdout);
  };
  const envOf = (objects: KubeObject[]) => {
    const d = objects.find((o) => o.kind === "Deployment") as appsv1.Deployment;
    return Object.fromEntries((d.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
  };
  const objects = await rendered();
  assert.equal((objects.find((o) => o.kind === "Deployment") as appsv1.Deployment).spec?.replicas, 1);
  assert.equal(envOf(objects).CONVERGE_LEADER_ELECTION, "true");
  const role = objects.find((o) => o.kind === "Role" && o.metadata?.name?.endsWith("-leader-election")) as
    | rbacv1.Role
    | undefined;
  assert.ok(role?.rules?.some((r) => r.resources?.includes("leases") && r.verbs.includes("update")));
  assert.equal(envOf(await rendered("--set", "leaderElection.enabled=false")).CONVERGE_LEADER_ELECTION, undefined);
  await dryRunApply(objects);
});

test("helm template with several replicas turns leader election on; the result is still valid", async (t) => {
  const ns = await plane.namespace(t);
  const { code, stdout, stderr } = await helm([
    "template",
    "hello",
    chartDir,
    "--namespace",
    ns,
    "--set",
    "replicaCount=2,logLevel=debug,image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "--set-json",
    'nodeSelector={"kubernetes.io/os":"linux"}',
  ]);
  assert.equal(code, 0, stderr);
  const objects = parseObjects(stdout);
  const deployment = objects.find((o) => o.kind === "Deployment") as appsv1.Deployment;
  assert.equal(deployment.metadata?.name, "hello-hello-world-operator");
  assert.equal(deployment.spec?.replicas, 2);
  const container = deployment.spec?.template.spec?.containers[0];
  const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env.CONVERGE_LEADER_ELECTION, "true");
  assert.equal(env.CONVERGE_LOG_LEVEL, "debug");
  assert.match(container?.image ?? "", /^hello-world-operator@sha256:/);
  assert.deepEqual(deployment.spec?.template.spec?.nodeSelector, { "kubernetes.io/os": "linux" });
  await dryRunApply(objects);
});

test("helm install --dry-run renders the NOTES", async (t) => {
  const ns = await plane.namespace(t);
  const { code, stdout, stderr } = await helm(["install", helloWorld.name, chartDir, "-n", ns, "--dry-run=client"]);
  assert.equal(code, 0, stderr);
  const notes = stdout.slice(stdout.indexOf("NOTES:"));
  assert.match(notes, new RegExp(`kubectl -n ${ns} rollout status deployment/${helloWorld.name}`));
  assert.match(notes, /helloworlds\.apps\.example\.com/);
});

test("the raw install bundle (config/bundle.yaml) is accepted by the apiserver", async (t) => {
  const ns = await plane.namespace(t);
  // Into the test's namespace, so that its namespaced objects have a namespace to go to in a dry run.
  const here = { ...ctx, namespace: ns };
  const files = await makeDeployGenerator(rbacStandIn).generate(here);
  const bundle = files.find((f) => f.path === "config/bundle.yaml");
  assert.ok(bundle);
  const objects = parseObjects(bundle.content);
  assert.deepEqual(
    objects.map((o) => o.kind),
    [
      "CustomResourceDefinition",
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "Deployment",
      "Service",
    ],
  );
  await dryRunApply(objects);
  const manager = files.find((f) => f.path === "config/manager/manager.yaml");
  assert.ok(manager);
  await dryRunApply(parseObjects(manager.content));
  await writeFiles(join(work, "project"), files);
  await access(join(work, "project", "Dockerfile"));
  await assert.rejects(client.get(appsv1.Deployment, { namespace: ns, name: helloWorld.name }), isNotFound);
});

test("rendered objects that the apiserver would reject are reported (the check is not vacuous)", async (t) => {
  const ns = await plane.namespace(t);
  const bad = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "bad", namespace: ns },
    spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "c" } }, spec: {} } },
  };
  await assert.rejects(dryRunApply([bad]), /Deployment .*bad was rejected/);
});
