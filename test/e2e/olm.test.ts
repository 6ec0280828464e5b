/**
 * The HelloWorld operator's OLM bundle against the real apiserver: with OLM's upstream ClusterServiceVersion CRD
 * installed, the generated CSV and the bundle's CRD manifests are accepted (server-side apply, dry run, strict
 * field validation), and the bundle passes validateBundle.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import helloWorld from "../../examples/hello-world/src/operator.ts";
import { Client, isNotFound } from "../../src/client/index.ts";
import { contextFor } from "../../src/generate/generator.ts";
import { type ClusterServiceVersion, olmBundleFiles, validateBundle } from "../../src/generate/olm.ts";
import { waitForCrds } from "../../src/operator/operator.ts";
import { testPlane } from "../../src/testing/index.ts";
import { apiextensionsv1, type KubeObject, resourceType } from "../../src/types/index.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "olm-test" });
after(() => client.close());

const ClusterServiceVersionType = resourceType<ClusterServiceVersion>({
  group: "operators.coreos.com",
  version: "v1alpha1",
  kind: "ClusterServiceVersion",
  plural: "clusterserviceversions",
  namespaced: true,
});

const csvCrdFile = new URL("../../third_party/crds/operators.coreos.com_clusterserviceversions.yaml", import.meta.url);

before(async () => {
  const crd = parse(await readFile(csvCrdFile, "utf8")) as apiextensionsv1.CustomResourceDefinition;
  const name = crd.metadata?.name ?? "";
  assert.equal(name, "clusterserviceversions.operators.coreos.com");
  await client.apply(apiextensionsv1.CustomResourceDefinition, crd, { force: true, fieldManager: "olm-test" });
  await waitForCrds(client, [name]);
});

const parseObjects = (text: string): KubeObject[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);

const ctx = contextFor(helloWorld);
const files = olmBundleFiles(ctx);

test("the HelloWorld bundle passes validateBundle", () => {
  assert.deepEqual(validateBundle(files), []);
  assert.deepEqual(
    files.map((f) => f.path),
    [
      "bundle/manifests/hello-world-operator.clusterserviceversion.yaml",
      "bundle/manifests/apps.example.com_helloworlds.yaml",
      "bundle/metadata/annotations.yaml",
    ],
  );
});

test("the generated ClusterServiceVersion is accepted by the apiserver (OLM's CRD schema)", async (t) => {
  const ns = await plane.namespace(t);
  const file = files.find((f) => f.path.endsWith(".clusterserviceversion.yaml"));
  assert.ok(file);
  const [csv] = parseObjects(file.content) as ClusterServiceVersion[];
  assert.ok(csv);
  const obj: ClusterServiceVersion = { ...csv, metadata: { ...csv.metadata, namespace: ns } };
  const applied = await client
    .apply(ClusterServiceVersionType, obj, {
      dryRun: true,
      force: true,
      fieldManager: "olm-test",
      fieldValidation: "Strict",
    })
    .catch((err: Error) => assert.fail(`the CSV was rejected: ${err.message}`));
  assert.equal(applied.metadata?.name, "hello-world-operator.v0.1.0");
  assert.equal(applied.spec.version, "0.1.0");
  const versions = helloWorld.definitions.flatMap((d) => d.crd().spec.versions.map((v) => v.name));
  assert.deepEqual(
    applied.spec.customresourcedefinitions?.owned?.map((o) => [o.name, o.version, o.kind]),
    versions.map((v) => ["helloworlds.apps.example.com", v, "HelloWorld"]),
  );
  assert.equal(applied.spec.install.spec.deployments[0]?.name, helloWorld.name);
  assert.ok((applied.spec.install.spec.clusterPermissions?.[0]?.rules.length ?? 0) > 0);
  // Dry run: nothing was stored.
  await assert.rejects(
    client.get(ClusterServiceVersionType, { namespace: ns, name: "hello-world-operator.v0.1.0" }),
    isNotFound,
  );
});

test("a CSV with a field of the wrong type is rejected (the check is not vacuous)", async (t) => {
  const ns = await plane.namespace(t);
  const file = files.find((f) => f.path.endsWith(".clusterserviceversion.yaml"));
  assert.ok(file);
  const [csv] = parseObjects(file.content) as ClusterServiceVersion[];
  assert.ok(csv);
  const bad = { ...csv, metadata: { ...csv.metadata, namespace: ns }, spec: { ...csv.spec, displayName: 42 } };
  await assert.rejects(
    client.apply(ClusterServiceVersionType, bad as unknown as ClusterServiceVersion, {
      dryRun: true,
      force: true,
      fieldManager: "olm-test",
      fieldValidation: "Strict",
    }),
    /displayName/,
  );
});

test("the bundle's CRD manifests are accepted by the apiserver", async () => {
  const crdFiles = files.filter((f) => f.path.startsWith("bundle/manifests/") && !f.path.includes("clusterservice"));
  assert.equal(crdFiles.length, helloWorld.definitions.length);
  for (const f of crdFiles) {
    for (const obj of parseObjects(f.content) as apiextensionsv1.CustomResourceDefinition[]) {
      const applied = await client
        .apply(apiextensionsv1.CustomResourceDefinition, obj, {
          dryRun: true,
          force: true,
          fieldManager: "olm-test",
          fieldValidation: "Strict",
        })
        .catch((err: Error) => assert.fail(`${f.path} was rejected: ${err.message}`));
      assert.equal(applied.metadata?.name, obj.metadata?.name);
    }
  }
});
