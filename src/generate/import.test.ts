import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { ResourceDefinition, VersionDefinition } from "../definition/define.ts";
import type { CustomResourceDefinition } from "../types/generated/apiextensions.v1.ts";
import { crdsFromYaml, ImportError, importCrd } from "./import.ts";

const repo = resolve(import.meta.dirname, "..", "..");
const upstream = join(repo, "third_party", "crds");
const widgetsFile = join(repo, "test", "e2e", "fixtures", "import", "widgets.example.com.yaml");
const run = promisify(execFile);

type AnyDefinition = ResourceDefinition<string, Record<string, VersionDefinition>, string>;

/** A throwaway project where `converge-sdk` resolves to this repository, with the imported modules in src/imported. */
let project: string;
const imported: { file: string; crd: CustomResourceDefinition; path: string; content: string }[] = [];

before(async () => {
  project = await mkdtemp(join(tmpdir(), "converge-import-"));
  await mkdir(join(project, "node_modules"));
  await symlink(repo, join(project, "node_modules", "converge-sdk"), "dir");
  await writeFile(join(project, "package.json"), JSON.stringify({ type: "module" }));
  const files = [
    ...(await readdir(upstream)).filter((f) => f.endsWith(".yaml")).map((f) => join(upstream, f)),
    widgetsFile,
  ];
  await mkdir(join(project, "src", "imported"), { recursive: true });
  for (const file of files) {
    for (const { crd } of crdsFromYaml(await readFile(file, "utf8"), file).crds) {
      const m = importCrd(crd);
      await writeFile(join(project, "src", "imported", m.path), m.content);
      imported.push({ file, crd, path: m.path, content: m.content });
    }
  }
});
after(() => rm(project, { recursive: true, force: true }));

/** `biome check` with the repository's settings on a folder of the project; its output, or a failure. */
async function biomeCheck(folder: string): Promise<string> {
  const config = JSON.parse(await readFile(join(repo, "biome.json"), "utf8")) as Record<string, unknown>;
  delete config.$schema;
  config.vcs = { enabled: false };
  await writeFile(join(project, "biome.json"), JSON.stringify(config));
  const biome = join(repo, "node_modules", ".bin", "biome");
  const { stdout, stderr } = await run(biome, ["check", "--error-on-warnings", "--files-max-size=4000000", folder], {
    cwd: project,
  }).catch((err: { stdout: string; stderr: string }) => assert.fail(`${err.stdout}\n${err.stderr}`));
  return stdout + stderr;
}

const load = async (path: string): Promise<Record<string, unknown>> =>
  (await import(join(project, "src", "imported", path))) as Record<string, unknown>;

const definitionOf = async (crd: CustomResourceDefinition, path: string): Promise<AnyDefinition> =>
  (await load(path))[crd.spec.names.kind] as AnyDefinition;

test("every upstream CRD round-trips: crd() of the imported definition has the input's schemas", async () => {
  assert.equal(imported.length, 8);
  for (const { crd, path } of imported) {
    const out = (await definitionOf(crd, path)).crd();
    assert.equal(out.metadata?.name, crd.metadata?.name);
    const { versions: outVersions, ...outSpec } = out.spec;
    const { versions: inVersions, conversion: _c, preserveUnknownFields: _p, ...inSpec } = crd.spec;
    assert.deepEqual(outSpec, inSpec, path);
    assert.deepEqual(
      outVersions.map((v) => v.name),
      inVersions.map((v) => v.name),
    );
    for (const v of inVersions) {
      const got = outVersions.find((o) => o.name === v.name);
      // The whole version: schema (per field, modulo key order), served, storage, subresources, columns, deprecation.
      assert.deepEqual(JSON.parse(JSON.stringify(got)), v, `${crd.metadata?.name} ${v.name}`);
    }
  }
});

test("the output depends on the schema only: key order, and re-importing crd() of an import, change nothing", async () => {
  const shuffle = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(shuffle)
      : value && typeof value === "object"
        ? Object.fromEntries(
            Object.entries(value)
              .reverse()
              .map(([k, v]) => [k, shuffle(v)]),
          )
        : value;
  for (const { crd, path, content } of imported) {
    assert.equal(importCrd(crd).content, content, "deterministic");
    assert.equal(importCrd(shuffle(crd) as CustomResourceDefinition).content, content, `${path}: key order`);
    const again = importCrd((await definitionOf(crd, path)).crd());
    assert.equal(again.content, content, `${path}: import of crd() of the import`);
  }
});

test("modules are named by group and plural and start with the header", () => {
  assert.deepEqual(imported.map((m) => m.path).sort(), [
    "dapr.io_components.ts",
    "example.com_widgets.ts",
    "monitoring.coreos.com_podmonitors.ts",
    "monitoring.coreos.com_prometheusrules.ts",
    "monitoring.coreos.com_servicemonitors.ts",
    "operators.coreos.com_clusterserviceversions.ts",
    "operators.coreos.com_operatorgroups.ts",
    "operators.coreos.com_subscriptions.ts",
  ]);
  const widget = imported.find((m) => m.path === "example.com_widgets.ts")?.content ?? "";
  assert.match(widget, /^\/\/ Generated by `converge import` from the CustomResourceDefinition widgets\.example\.com/);
  // Descriptions are kept as JSDoc too (of constants and of fields), with a closing comment marker escaped.
  assert.match(
    widget,
    /\n\/\*\* A Widget: every schema extension in one kind\. It says "hello" and 'bye' \*\\\/ too\. \*\/\nexport const Widget = defineResource\(/,
  );
  assert.match(widget, /\n {4}\/\*\* A port number or name\. \*\/\n {4}port: Type\.Optional\(/);
  // Identical schemas are one constant; the storage version's get the plain names.
  assert.match(widget, /otherSameShape: Type\.Optional\(OtherSameShape\),\n\s+paused/);
  assert.match(widget, /sameShape: Type\.Optional\(OtherSameShape\)/);
  assert.match(widget, /export const WidgetSpec = /);
  assert.match(widget, /export const WidgetSpecV1beta1 = /);
  assert.match(widget, /export const WidgetSpecObject = /); // not `Object`, which would shadow the global
});

test("the modules pass Biome (format, lint, imports) unchanged", async () => {
  assert.match(await biomeCheck("src/imported"), /Checked 8 files/);
});

test("the types follow the schemas, and the modules pass tsc strict", async () => {
  await writeFile(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2024",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["es2024"],
        types: ["node"],
        typeRoots: [join(repo, "node_modules", "@types")],
        strict: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        erasableSyntaxOnly: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        noEmit: true,
      },
      include: ["src"],
    }),
  );
  await writeFile(
    join(project, "src", "use.ts"),
    `import { Client } from "converge-sdk";
import { ClusterServiceVersion } from "./imported/operators.coreos.com_clusterserviceversions.ts";
import { Component } from "./imported/dapr.io_components.ts";
import { ServiceMonitor } from "./imported/monitoring.coreos.com_servicemonitors.ts";
import { type Member, Widget, type WidgetSpec } from "./imported/example.com_widgets.ts";

const member: Member = { name: "a", zone: "z" };
const spec: WidgetSpec = {
  replicas: 1,
  mode: "Safe",
  level: 2,
  port: "http",
  target: 8080,
  nickname: null,
  selector: null,
  config: { anything: [1, "two"] },
  value: 3,
  limits: { cpu: 1, memory: "1Gi" },
  members: [member],
  template: { apiVersion: "v1", kind: "ConfigMap" },
  "x-odd-key": "odd",
  Object: { a: "x" },
};
export const widget: Widget = { metadata: { name: "w" }, owner: "me", tags: ["a"], spec, status: { replicas: 1 } };
export const name: string | undefined = widget.metadata?.name;
export const conditionStatus: "True" | "False" | "Unknown" | undefined = widget.status?.conditions?.[0]?.status;

// @ts-expect-error an enum takes only its values
export const badMode: WidgetSpec = { ...spec, mode: "Slow" };
// @ts-expect-error int-or-string takes no booleans
export const badPort: WidgetSpec = { ...spec, port: true };
// @ts-expect-error integer enums too
export const badLevel: WidgetSpec = { ...spec, level: 4 };
// @ts-expect-error the spec is required
export const noSpec: Widget = { metadata: {} };
// @ts-expect-error a top-level field beside spec is typed
export const badOwner: Widget = { metadata: {}, spec, owner: 1 };
// Dapr's Component: spec is optional, scopes beside it.
export const component: Component = { metadata: { name: "c" }, scopes: ["app"], spec: { type: "state.in-memory", version: "v1", metadata: [] } };

export async function useClient(client: Client): Promise<string[]> {
  const monitors = await client.list(ServiceMonitor, { namespace: "default" });
  const csv = await client.get(ClusterServiceVersion, { namespace: "olm", name: "x" });
  const w = await client.create(Widget, widget);
  return [
    ...monitors.items.map((m) => m.spec.endpoints?.[0]?.port ?? ""),
    csv.spec.install.strategy,
    String(w.spec.replicas),
    Widget.versions.v1beta1.apiVersion,
  ];
}
`,
  );
  const started = Date.now();
  await run(join(repo, "node_modules", ".bin", "tsc"), ["-p", project]).catch(
    (err: { stdout: string; stderr: string }) => assert.fail(`${err.stdout}\n${err.stderr}`),
  );
  // Every module, the 800 KB ClusterServiceVersion among them, type-checks in seconds.
  assert.ok(Date.now() - started < 60_000);
});

test("validate() checks objects against the imported schemas, with field paths", async () => {
  const widgets = imported.find((m) => m.path === "example.com_widgets.ts");
  assert.ok(widgets);
  const Widget = await definitionOf(widgets.crd, widgets.path);
  const spec = { replicas: 3, mode: "Fast", image: "nginx", port: 80, nickname: null, selector: null };
  assert.deepEqual(Widget.validate({ metadata: { name: "w" }, spec }), []);
  const fields = (obj: unknown, version?: string) => [...new Set(Widget.validate(obj, version).map((e) => e.field))];
  assert.deepEqual(fields({ metadata: {}, spec: { ...spec, mode: "Slow" } }), ["spec.mode"]);
  assert.ok(fields({ metadata: {}, spec: { ...spec, port: true } }).includes("spec.port"));
  assert.ok(fields({ metadata: {}, spec: { ...spec, image: "UPPER" } }).includes("spec.image"));
  assert.ok(fields({ metadata: {}, spec: { ...spec, members: [{ name: "a" }] } }).includes("spec.members[0]"));
  const { image: _, ...noImage } = spec;
  assert.ok(fields({ metadata: {}, spec: noImage }).includes("spec")); // oneOf: image or template
  assert.deepEqual(fields({ spec }), ["metadata"]);
  assert.deepEqual(fields({ metadata: {}, spec, owner: 1 }), ["owner"]);
  assert.deepEqual(fields({ spec: { size: 1 } }, "v1beta1"), []);

  for (const { crd, path } of imported.filter((m) => m.file.startsWith(upstream))) {
    const def = await definitionOf(crd, path);
    // Every pattern of the upstream schemas compiles; an empty spec gives errors or none, but no exception.
    assert.ok(Array.isArray(def.validate({ metadata: { name: "x" }, spec: {} })), path);
  }
  const monitors = imported.find((m) => m.path === "monitoring.coreos.com_servicemonitors.ts");
  assert.ok(monitors);
  const ServiceMonitor = await definitionOf(monitors.crd, monitors.path);
  const monitor = { metadata: { name: "m" }, spec: { selector: {}, endpoints: [{ port: "web" }] } };
  assert.deepEqual(ServiceMonitor.validate(monitor), []);
  const bad = { ...monitor, spec: { selector: {}, endpoints: [{ port: 9090 }] } };
  assert.ok(ServiceMonitor.validate(bad).some((e) => e.field === "spec.endpoints[0].port"));
});

test("input that cannot be imported is refused, naming the file, the document and the field", () => {
  const crd = (schema: unknown, version = "v1") =>
    `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: things.example.com }
spec:
  group: example.com
  scope: Namespaced
  names: { kind: Thing, plural: things }
  versions:
    - name: ${version}
      served: true
      storage: true
      schema: { openAPIV3Schema: ${JSON.stringify(schema)} }
`;
  const refuses = (text: string, message: RegExp) =>
    assert.throws(
      () => {
        for (const { crd } of crdsFromYaml(text, "in.yaml").crds) importCrd(crd);
      },
      (err: Error) => {
        assert.ok(err instanceof ImportError, err.message);
        assert.match(err.message, message);
        return true;
      },
    );
  refuses("a: [1,\n", /^in\.yaml: document 0: invalid YAML/);
  refuses(
    `kind: ConfigMap\n---\n${crd({}).replace("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")}`,
    /^in\.yaml: document 1: a CustomResourceDefinition of apiextensions\.k8s\.io\/v1beta1; only v1 is supported/,
  );
  refuses(
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: {}\n",
    /^in\.yaml: document 0: .*needs spec\.group/,
  );
  refuses("--- 42\n", /^in\.yaml: document 0: not a Kubernetes object/);
  const spec = (props: unknown) => ({ type: "object", properties: { spec: { type: "object", properties: props } } });
  refuses(crd(spec({ a: { description: "no type" } })), /^things\.example\.com v1: spec\.a: a field without a type/);
  refuses(crd(spec({ a: { type: "array" } })), /^things\.example\.com v1: spec\.a: an array needs one items schema/);
  refuses(
    crd({ type: "object", "x-kubernetes-preserve-unknown-fields": true }),
    /"x-kubernetes-preserve-unknown-fields" on the whole object is not supported/,
  );
  refuses(
    crd({ type: "object", properties: { data: { type: "string" } } }),
    /things\.example\.com v1: the schema has no spec/,
  );

  refuses(
    crd(spec({})).replace("kind: Thing", "kind: Type"),
    /things\.example\.com: kind "Type" clashes with an import/,
  );

  const { crds, skipped } = crdsFromYaml(`kind: ConfigMap\n---\n---\n${crd(spec({}))}---\nfoo: bar\n`, "x.yaml");
  assert.equal(crds.length, 1);
  assert.equal(crds[0]?.source, "x.yaml: document 2"); // the empty document 1 counts, and is ignored
  assert.deepEqual(skipped, [
    { index: 0, what: "a ConfigMap" },
    { index: 3, what: "not a Kubernetes object" },
  ]);
});

test("a kind named like a global keeps its name, with the lint rule silenced for it alone", async () => {
  const [located] = crdsFromYaml(
    `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: functions.example.com }
spec:
  group: example.com
  scope: Cluster
  names: { kind: Function, plural: functions }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, properties: { spec: { type: object } } } }
`,
    "functions.yaml",
  ).crds;
  assert.ok(located);
  const { content } = importCrd(located.crd, { from: "my-converge" });
  // Nothing hoisted, so no Static to import (Biome would call it unused).
  assert.match(content, /^import \{ defineResource, type ObjectOf, Type \} from "my-converge";$/m);
  assert.match(
    content,
    /\/\/ biome-ignore lint\/suspicious\/noShadowRestrictedNames: the constant is named after the kind\nexport const Function = defineResource\(\{/,
  );
  assert.match(content, /scope: "Cluster",\n/);
  assert.match(content, /versions: \{ v1: \{ spec: Type\.Optional\(Type\.Object\(\{\}\)\) \} \},/);
  await mkdir(join(project, "src", "other"), { recursive: true });
  await writeFile(join(project, "src", "other", "functions.ts"), content);
  assert.match(await biomeCheck("src/other"), /Checked 1 file/);
});
