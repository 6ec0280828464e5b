/**
 * The built-in types are generated, not maintained: regenerating them from the running apiserver gives the
 * committed files byte for byte, and every ResourceType says what discovery says.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import {
  type DiscoveryResourceList,
  fetchGeneratorInput,
  generatedDir,
  generateTypes,
  namespaceAliases,
} from "../../scripts/generate-types.ts";
import { testPlane } from "../../src/testing/index.ts";
import * as types from "../../src/types/index.ts";
import { appsv1, corev1, type KubeObject, type ObjectMeta, type ResourceType } from "../../src/types/index.ts";

const plane = await testPlane();
const dir = join(import.meta.dirname, "..", "..", generatedDir);
const input = await fetchGeneratorInput(plane.http);

/** Where the first difference is, rather than two 300 KB strings. */
function firstDifference(name: string, committed: string, generated: string): string {
  const a = committed.split("\n");
  const b = generated.split("\n");
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return (
    `${generatedDir}/${name} differs from what the apiserver's documents give, at line ${i + 1}:\n` +
    `  committed: ${JSON.stringify(a[i])}\n  generated: ${JSON.stringify(b[i])}\n` +
    "Regenerate with: node scripts/generate-types.ts"
  );
}

test("regenerating from the apiserver gives the committed files byte for byte", async (t) => {
  const committedVersion = /^\/\/ Kubernetes (\S+)\. DO NOT EDIT/m.exec(
    await readFile(join(dir, "meta.v1.ts"), "utf8"),
  );
  if (committedVersion?.[1] !== input.kubernetesVersion) {
    t.skip(`the files are from Kubernetes ${committedVersion?.[1]}, the apiserver is ${input.kubernetesVersion}`);
    return;
  }
  const files = generateTypes(input);
  const onDisk = (await readdir(dir)).filter((n) => n.endsWith(".ts")).sort();
  assert.deepEqual(onDisk, [...files.keys()].sort(), `the files in ${generatedDir}`);
  for (const [name, content] of files) {
    const committed = await readFile(join(dir, name), "utf8");
    if (committed !== content) assert.fail(firstDifference(name, committed, content));
  }
  // And generating twice gives the same: nothing depends on the order of maps or on the clock.
  assert.deepEqual(generateTypes(input), files);
});

test("src/types/index.ts exports every generated file as a namespace", async () => {
  const exported = types as unknown as Record<string, unknown>;
  for (const [file, alias] of namespaceAliases(generateTypes(input))) {
    const module: unknown = await import(pathToFileURL(join(dir, file)).href);
    assert.equal(exported[alias], module, `export * as ${alias} from "./generated/${file}"`);
  }
});

function isResourceType(value: unknown): value is ResourceType {
  return typeof value === "object" && value !== null && "plural" in value && "subresources" in value;
}

test("every ResourceType agrees with discovery, and every resource has one", () => {
  const seen = new Set<string>();
  for (const namespace of Object.values(types)) {
    if (typeof namespace !== "object" || namespace === null) continue;
    for (const [name, value] of Object.entries(namespace)) {
      if (!isResourceType(value)) continue;
      const list = input.discovery[value.apiVersion] as DiscoveryResourceList | undefined;
      const resource = list?.resources.find((r) => r.name === value.plural);
      assert.ok(resource, `${value.apiVersion} ${value.plural} (${name}) is not in discovery`);
      assert.equal(name, value.kind);
      assert.equal(value.kind, resource.kind, `${value.apiVersion} ${value.plural}: kind`);
      assert.equal(value.namespaced, resource.namespaced, `${value.apiVersion} ${value.plural}: namespaced`);
      const sub = (s: string) => list?.resources.some((r) => r.name === `${value.plural}/${s}`);
      assert.deepEqual(value.subresources, { status: sub("status"), scale: sub("scale") }, `${value.plural}`);
      seen.add(`${value.apiVersion} ${value.plural}`);
    }
  }
  const expected = Object.values(input.discovery).flatMap((list) =>
    list.resources.filter((r) => !r.name.includes("/")).map((r) => `${list.groupVersion} ${r.name}`),
  );
  assert.deepEqual([...seen].sort(), expected.sort());
  assert.ok(seen.size > 50, `only ${seen.size} resources`);

  // Spot checks of what a client relies on.
  assert.deepEqual(
    { ...appsv1.Deployment },
    {
      group: "apps",
      version: "v1",
      apiVersion: "apps/v1",
      kind: "Deployment",
      plural: "deployments",
      namespaced: true,
      subresources: { status: true, scale: true },
    },
  );
  assert.deepEqual(corev1.ConfigMap.subresources, { status: false, scale: false });
  assert.equal(corev1.ConfigMap.apiVersion, "v1");
  assert.equal(corev1.Namespace.namespaced, false);
  assert.equal(corev1.Namespace.subresources.status, true);
  assert.equal(corev1.Pod.subresources.scale, false);
  assert.equal(types.rbacv1.ClusterRole.namespaced, false);
  assert.equal(types.autoscalingv2.HorizontalPodAutoscaler.apiVersion, "autoscaling/v2");
  assert.ok(Object.isFrozen(appsv1.Deployment));
});

/** The collection URL of a kind in a namespace. */
function collection(type: ResourceType, namespace: string): string {
  const prefix = type.group ? `/apis/${type.apiVersion}` : `/api/${type.version}`;
  return `${prefix}/namespaces/${namespace}/${type.plural}`;
}

test("typed objects are what the apiserver accepts and returns", async (t) => {
  const ns = await plane.namespace(t);

  const deployment: appsv1.Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { app: "web" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image: "nginx", ports: [{ containerPort: 80, protocol: "TCP" }] }] },
      },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
    },
  };
  const created = await plane.http.expectOk<appsv1.Deployment>("POST", collection(appsv1.Deployment, ns), deployment);
  assert.equal(created.kind, appsv1.Deployment.kind);
  assert.equal(created.apiVersion, appsv1.Deployment.apiVersion);
  assert.equal(created.spec.template.spec?.containers[0]?.image, "nginx");
  assert.equal(typeof created.metadata?.creationTimestamp, "string"); // metav1.Time is a string on the wire
  const meta: ObjectMeta | undefined = created.metadata;
  assert.equal(meta?.namespace, ns);

  const configMap: corev1.ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c" },
    data: { a: "1" },
  };
  const cm = await plane.http.expectOk<corev1.ConfigMap>("POST", collection(corev1.ConfigMap, ns), configMap);
  assert.deepEqual(cm.data, { a: "1" });
  assert.equal("status" in cm, false);

  // Compile-time checks: kinds are KubeObjects, and the literals and required fields are enforced.
  const objects: KubeObject[] = [deployment, configMap];
  assert.equal(objects.length, 2);
  const minimal: appsv1.Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "x" },
    spec: { selector: {}, template: {} },
  };
  assert.equal(minimal.spec.template.spec, undefined);
  // @ts-expect-error apiVersion is the literal "apps/v1"
  const wrongVersion: appsv1.Deployment = { apiVersion: "v1", spec: { selector: {}, template: {} } };
  // @ts-expect-error spec is required
  const noSpec: appsv1.Deployment = { metadata: { name: "x" } };
  // @ts-expect-error enums are string literal unions
  const wrongPolicy: corev1.ContainerPort = { containerPort: 80, protocol: "HTTP" };
  assert.ok(wrongVersion && noSpec && wrongPolicy);
});
