/**
 * `converge import` against the real apiserver: Dapr's Component and Prometheus Operator's ServiceMonitor CRDs,
 * installed from third_party/crds, are imported into a throwaway project; the modules type-check with the Client and a
 * controller, objects made through them are accepted and read back, `.validate()` rejects what the apiserver
 * rejects, and `--from-cluster` gives the same bytes as the files.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { Client, isNotFound } from "../../src/client/index.ts";
import type { FieldError, ResourceDefinition, VersionDefinition } from "../../src/definition/define.ts";
import { waitForCrds } from "../../src/operator/operator.ts";
import { testPlane } from "../../src/testing/index.ts";
import { apiextensionsv1, type KubeObject } from "../../src/types/index.ts";

const repo = resolve(import.meta.dirname, "..", "..");
const crds = join(repo, "third_party", "crds");
const daprFile = join(crds, "dapr.io_components.yaml");
const monitorFile = join(crds, "monitoring.coreos.com_servicemonitors.yaml");
const widgetsFile = join(import.meta.dirname, "fixtures", "import", "widgets.example.com.yaml");
const main = join(repo, "src", "cli", "main.ts");

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "import-test" });

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `converge <args>` in the project, against the test plane. */
const converge = (...args: string[]): Promise<Ran> =>
  promisify(execFile)(process.execPath, [main, ...args], {
    cwd: project,
    env: { ...process.env, KUBECONFIG: plane.kubeconfig },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );

let project: string;

before(async () => {
  for (const file of [daprFile, monitorFile, widgetsFile]) {
    const [doc] = parseAllDocuments(await readFile(file, "utf8"));
    const crd = doc?.toJS() as apiextensionsv1.CustomResourceDefinition;
    await client.apply(apiextensionsv1.CustomResourceDefinition, crd, { force: true, fieldManager: "import-test" });
  }
  await waitForCrds(client, ["components.dapr.io", "servicemonitors.monitoring.coreos.com", "widgets.example.com"]);
  project = await mkdtemp(join(tmpdir(), "converge-import-e2e-"));
  await mkdir(join(project, "node_modules"));
  await symlink(repo, join(project, "node_modules", "converge-sdk"), "dir");
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
});

after(async () => {
  await client.delete(apiextensionsv1.CustomResourceDefinition, "widgets.example.com").catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
  await client.close();
  if (project) await rm(project, { recursive: true, force: true });
});

const imported = (name: string) => join(project, "src", "imported", name);

test("converge import writes one module per CRD, and nothing when they are up to date", async () => {
  const first = await converge("import", daprFile, monitorFile);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split("\n"), [
    "wrote src/imported/dapr.io_components.ts (Component, dapr.io/v1alpha1)",
    "wrote src/imported/monitoring.coreos.com_servicemonitors.ts (ServiceMonitor, monitoring.coreos.com/v1)",
  ]);
  const written = (await stat(imported("dapr.io_components.ts"))).mtimeMs;
  const second = await converge("import", daprFile, monitorFile);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^unchanged src\/imported\/dapr\.io_components\.ts/);
  assert.equal((await stat(imported("dapr.io_components.ts"))).mtimeMs, written);
});

test("a CRD served over http(s) imports like the file; a missing one fails with its URL", async (t) => {
  const server = createServer((req, res) => {
    if (req.url !== "/components.yaml") {
      res.writeHead(404).end();
      return;
    }
    readFile(daprFile).then((body) => res.writeHead(200, { "content-type": "application/yaml" }).end(body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const out = await converge("import", `${base}/components.yaml`, "--out", "from-url");
  assert.equal(out.code, 0, out.stderr);
  assert.equal(
    await readFile(join(project, "from-url", "dapr.io_components.ts"), "utf8"),
    await readFile(imported("dapr.io_components.ts"), "utf8"),
  );
  const missing = await converge("import", `${base}/nothing.yaml`);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: http:\/\/127\.0\.0\.1:\d+\/nothing\.yaml: HTTP 404/);
});

test("--from-cluster reads the installed CRDs and gives the same modules as the files", async () => {
  const out = await converge(
    "import",
    "--from-cluster",
    "components.dapr.io",
    "servicemonitors.monitoring.coreos.com",
    "--out",
    "from-cluster",
  );
  assert.equal(out.code, 0, out.stderr);
  for (const file of ["dapr.io_components.ts", "monitoring.coreos.com_servicemonitors.ts"]) {
    assert.equal(
      await readFile(join(project, "from-cluster", file), "utf8"),
      await readFile(imported(file), "utf8"),
      file,
    );
  }
  // The handmade CRD, with every extension, also survives the apiserver's round trip byte for byte.
  const local = await converge("import", widgetsFile, "--out", "widgets-file");
  assert.equal(local.code, 0, local.stderr);
  assert.match(
    local.stderr,
    /warning: .*widgets\.example\.com\.yaml: document 1 is a ConfigMap, not a CustomResourceDefinition: skipped/,
  );
  const remote = await converge("import", "--from-cluster", "widgets.example.com", "--out", "widgets-cluster");
  assert.equal(remote.code, 0, remote.stderr);
  assert.equal(
    await readFile(join(project, "widgets-cluster", "example.com_widgets.ts"), "utf8"),
    await readFile(join(project, "widgets-file", "example.com_widgets.ts"), "utf8"),
  );
});

test("the imported modules type-check with the Client and a controller (tsc strict)", async () => {
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
    join(project, "src", "app.ts"),
    `import { type Client, controller, corev1 } from "converge-sdk";
import { Component } from "./imported/dapr.io_components.ts";
import { ServiceMonitor } from "./imported/monitoring.coreos.com_servicemonitors.ts";

export async function stateStore(client: Client, namespace: string, name: string): Promise<Component> {
  return client.create(Component, {
    apiVersion: Component.apiVersion,
    kind: "Component",
    metadata: { namespace, name: \`\${name}-state\` },
    spec: { type: "state.in-memory", version: "v1", metadata: [] },
  });
}

export async function monitor(client: Client, namespace: string): Promise<string | undefined> {
  const m: ServiceMonitor = {
    metadata: { namespace, name: "web" },
    spec: { selector: { matchLabels: { app: "web" } }, endpoints: [{ port: "metrics", interval: "30s" }] },
  };
  const created = await client.create(ServiceMonitor, m);
  return created.spec.endpoints?.[0]?.port;
}

// @ts-expect-error spec.type is required by Dapr's schema
export const noType: Component = { metadata: { name: "x" }, spec: { version: "v1", metadata: [] } };
// @ts-expect-error a ServiceMonitor's endpoint port is a name, not a number
export const badPort: ServiceMonitor = { spec: { selector: {}, endpoints: [{ port: 9090 }] } };

export const watcher =
  controller("web").for(corev1.ConfigMap).owns(ServiceMonitor).owns(Component).reconcile(async () => {});
`,
  );
  await promisify(execFile)(join(repo, "node_modules", ".bin", "tsc"), ["-p", project]).catch(
    (err: { stdout: string; stderr: string }) => assert.fail(`${err.stdout}\n${err.stderr}`),
  );
});

type AnyDefinition = ResourceDefinition<string, Record<string, VersionDefinition>, string>;

test("objects made through the imported definitions are accepted and read back; validate() rejects bad ones", async (t) => {
  const ns = await plane.namespace(t);
  const { Component } = (await import(imported("dapr.io_components.ts"))) as { Component: AnyDefinition };
  const { ServiceMonitor } = (await import(imported("monitoring.coreos.com_servicemonitors.ts"))) as {
    ServiceMonitor: AnyDefinition;
  };

  // The type-checked functions of the project's app.ts, run as they are.
  const app = (await import(join(project, "src", "app.ts"))) as {
    stateStore: (client: Client, namespace: string, name: string) => Promise<KubeObject & { spec: unknown }>;
    monitor: (client: Client, namespace: string) => Promise<string | undefined>;
  };
  const created = await app.stateStore(client, ns, "guestbook");
  const component = (await client.get(Component, { namespace: ns, name: "guestbook-state" })) as typeof created;
  assert.deepEqual(component.spec, { type: "state.in-memory", version: "v1", metadata: [] });
  assert.equal(component.metadata?.uid, created.metadata?.uid);
  assert.deepEqual(Component.validate(component), []);

  assert.equal(await app.monitor(client, ns), "metrics");
  const monitors = await client.list(ServiceMonitor, { namespace: ns });
  assert.deepEqual(
    monitors.items.map((m) => m.metadata?.name),
    ["web"],
  );
  const monitor = monitors.items[0] as KubeObject & { spec: { endpoints: unknown[] } };
  assert.deepEqual(ServiceMonitor.validate(monitor), []);

  // What validate() rejects, the apiserver rejects too, at the same field.
  const fields = (errors: FieldError[]) => [...new Set(errors.map((e) => e.field))];
  const badMonitor = {
    metadata: { namespace: ns, name: "bad" },
    spec: { ...monitor.spec, endpoints: [{ port: 9090 }] },
  };
  assert.deepEqual(fields(ServiceMonitor.validate(badMonitor)), ["spec.endpoints[0].port"]);
  await assert.rejects(client.create(ServiceMonitor, badMonitor), /spec\.endpoints\[0\]\.port/);
  const badComponent = {
    apiVersion: Component.apiVersion,
    kind: "Component",
    metadata: { namespace: ns, name: "bad" },
    spec: { type: "x", version: 1, metadata: [] },
  };
  assert.deepEqual(fields(Component.validate(badComponent)), ["spec.version"]);
  await assert.rejects(client.create(Component, badComponent), /spec\.version/);
});

test("bad input fails with the file and document, and the exit code", async () => {
  const bad = join(project, "bad.yaml");
  await writeFile(
    bad,
    `kind: ConfigMap\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: [\n`,
  );
  const invalid = await converge("import", bad);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /^error: .*bad\.yaml: document 1: invalid YAML/m);
  assert.doesNotMatch(invalid.stderr, /\n\s+at /);

  const missing = await converge("import", join(project, "nope.yaml"));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.yaml: no such file/);

  const notInstalled = await converge("import", "--from-cluster", "nothings.example.com");
  assert.equal(notInstalled.code, 1);
  assert.match(notInstalled.stderr, /CustomResourceDefinition nothings\.example\.com is not installed/);

  const help = await converge("import", "--help");
  assert.match(help.stdout, /^Usage: converge import \[options\] <sources\.\.\.>/);
  assert.match(help.stdout, /--from-cluster/);
});
