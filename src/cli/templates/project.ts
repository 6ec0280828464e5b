/** The files of a new operator project, as `converge init` writes them (paths relative to the project folder). */
import { controllerSource, definitionSource, markers, sampleYaml, unitTestSource } from "./kind.ts";
import type { KindNames } from "./names.ts";

export interface ProjectParams {
  /** Folder-independent project name: the npm package's and the operator's (a DNS label). */
  name: string;
  /** The first kind, in src/api.ts. */
  kind: KindNames;
  /** The `converge-sdk` dependency: a version range, or any other npm spec (a tarball, `file:` a checkout). */
  convergeSpec: string;
}

/**
 * The `node` devDependency of a new project, which gives its npm scripts Node 24: the repository's own (a test
 * keeps them equal; the published package.json has no devDependencies to read it from).
 */
export const projectNodeSpec = "^24.21.0";

export function projectFiles(p: ProjectParams): Record<string, string> {
  const k = p.kind;
  return {
    "package.json": packageJson(p),
    "tsconfig.json": tsconfig,
    ".gitignore": "node_modules/\n*.log\ndist/\n",
    "README.md": readme(p),
    "src/api.ts": definitionSource(k),
    "src/controller.ts": controllerSource(k, "./api.ts"),
    "src/operator.ts": operatorSource(p),
    "src/main.ts": mainSource,
    "test/unit.test.ts": unitTestSource(k, { api: "../src/api.ts", controller: "../src/controller.ts" }),
    "test/e2e.test.ts": e2eTestSource(k),
    [`config/samples/${k.lower}.yaml`]: sampleYaml(k),
  };
}

function packageJson(p: ProjectParams): string {
  const pkg = {
    name: p.name,
    version: "0.1.0",
    private: true,
    type: "module",
    description: `${p.kind.kind}: a Kubernetes operator written with Converge`,
    scripts: {
      start: "node src/main.ts",
      test: 'node --test "test/**/*.test.ts"',
      generate: "converge generate",
      build: "converge build",
    },
    dependencies: { "converge-sdk": p.convergeSpec },
    devDependencies: { node: projectNodeSpec },
    // npm runs dependencies' install scripts only when allowed: node's fetches the Node 24 binary, esbuild's
    // (a dependency of converge-sdk, for `converge build`) checks its native binary.
    allowScripts: { node: true, esbuild: true },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const tsconfig = `${JSON.stringify(
  {
    compilerOptions: {
      target: "es2024",
      module: "nodenext",
      moduleResolution: "nodenext",
      lib: ["es2024"],
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      erasableSyntaxOnly: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ["src", "test"],
  },
  null,
  2,
)}\n`;

function operatorSource(p: ProjectParams): string {
  const k = p.kind;
  return `import { defineOperator } from "converge-sdk";
import { ${k.kind} } from "./api.ts";
import { ${k.controllerFactory} } from "./controller.ts";
${markers.imports}

/**
 * The ${p.name} operator as tools see it: the custom resources it defines, the controllers it runs, how it is
 * deployed. \`converge generate\` writes its CRDs from this; src/main.ts runs it. \`converge create api\` adds new
 * kinds above the marker comments.
 */
export default defineOperator({
  name: "${p.name}",
  version: "0.1.0",
  description: "${k.kind}: spec.message becomes a ConfigMap's data.message.",
  definitions: [
    ${k.kind},
    ${markers.definitions}
  ],
  controllers: [
    ${k.controllerFactory},
    ${markers.controllers}
  ],
});
`;
}

const mainSource = `/**
 * Installs the operator's CRDs into the cluster of the current KUBECONFIG (e.g. one from \`npx converge cluster up\`)
 * and runs its controllers until Ctrl-C.
 */
import { runOperator } from "converge-sdk";
import operator from "./operator.ts";

console.error(\`running \${operator.name} against the current KUBECONFIG (Ctrl-C stops it)\`);
await runOperator(operator, { installCrds: true });
`;

function e2eTestSource(k: KindNames): string {
  return `/**
 * The operator on a real Kubernetes control plane: its CRDs installed, its controllers running in a Manager.
 * \`testPlane()\` starts a local plane for the test run (the first time, building the Kubernetes binaries takes
 * minutes), or uses the cluster of the kubeconfig in CONVERGE_TEST_KUBECONFIG. Each test gets its own namespace.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, corev1, InvalidError, installCrds, isNotFound, Manager, silentLogger } from "converge-sdk";
import { eventually, testPlane } from "converge-sdk/testing";
import { ${k.kind} } from "../src/api.ts";
import operator from "../src/operator.ts";

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: \`\${operator.name}-test\` });
test.after(() => client.close());
await installCrds(client, operator);

test("the operator gives a ${k.kind} its ConfigMap, reports Ready, repairs drift and cleans up", async (t) => {
  const namespace = await plane.namespace(t);
  const manager = await Manager.create({ name: operator.name, client, namespace, log: silentLogger });
  for (const make of operator.controllers) manager.add(make());
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });

  const key = { namespace, name: "greeting" };
  await client.create(${k.kind}, { metadata: { ...key }, spec: { message: "hello" } });
  const configMap = await eventually("the ConfigMap", async () => {
    const cm = await client.get(corev1.ConfigMap, key);
    return cm.data?.message === "hello" ? cm : undefined;
  });
  assert.equal(configMap.metadata?.ownerReferences?.[0]?.kind, "${k.kind}");
  await eventually("the ${k.kind} to be Ready", async () => {
    const obj = await client.get(${k.kind}, key);
    return obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  });

  await client.patch(corev1.ConfigMap, key, "merge", { data: { message: "edited by hand" } });
  await eventually("the ConfigMap to be put right", async () => {
    return (await client.get(corev1.ConfigMap, key)).data?.message === "hello";
  });

  await client.delete(${k.kind}, key);
  await eventually("the ${k.kind} to be gone", () => client.get(${k.kind}, key).then(() => false, isNotFound));
});

test("the API server checks a ${k.kind} against the schema of its definition", async (t) => {
  const namespace = await plane.namespace(t);
  const empty = { metadata: { name: "empty", namespace }, spec: { message: "" } };
  await assert.rejects(client.create(${k.kind}, empty), (err) => {
    assert.ok(err instanceof InvalidError);
    assert.match(err.message, /spec\\.message/);
    return true;
  });
});
`;
}

function readme(p: ProjectParams): string {
  const k = p.kind;
  return `# ${p.name}

A Kubernetes operator written in TypeScript with Converge, the TypeScript SDK for Kubernetes operators. It defines
the \`${k.kind}\` custom resource (\`${k.group}/${k.version}\`) and a controller that gives every ${k.kind} a ConfigMap
of the same name holding its \`spec.message\`: Converge applies it, repairs it when it is edited or deleted, sets
\`Ready\` / \`Progressing\` / \`Degraded\` conditions on the ${k.kind}, and deletes it with the ${k.kind}.

\`\`\`
src/api.ts          the ${k.kind} definition: TypeScript type, CRD schema, validation, printer columns
src/controller.ts   the controller: one declared child
src/operator.ts     the operator as a whole (definitions, controllers), read by \`converge generate\`
src/main.ts         installs the CRDs and runs the operator (npm start)
test/unit.test.ts   the controller on the in-memory FakeClient (milliseconds, no cluster)
test/e2e.test.ts    the operator on a real local control plane
config/crd/         the CRDs, generated from src/ (npm run generate)
config/samples/     a ${k.kind} to try
\`\`\`

Node.js 24 runs the TypeScript files directly; \`npm install\` brings it as the \`node\` devDependency, which npm
scripts put first on \`PATH\`.

## Build and test

\`\`\`sh
npm install
npm test            # unit tests, and end-to-end tests on a local control plane started for the run
npm run generate    # writes config/crd/ from the definitions (\`npx converge generate --check\` fails when stale)
\`\`\`

The end-to-end test starts a real local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok
nodes); the first run builds the pinned Kubernetes binaries with Go, which takes several minutes, and later runs
start one in seconds. To reuse a running plane instead, point the tests at its kubeconfig:
\`CONVERGE_TEST_KUBECONFIG=$(npx converge cluster kubeconfig) npm test\`.

## Run it

\`\`\`sh
npx converge cluster up                          # a local control plane (or use any cluster)
export KUBECONFIG=$(npx converge cluster kubeconfig)
npm start                                        # installs the CRDs, runs the operator until Ctrl-C
\`\`\`

In another terminal:

\`\`\`sh
kubectl apply -f config/samples/${k.lower}.yaml
kubectl get ${k.plural}
kubectl get configmap ${k.lower}-sample -o jsonpath='{.data.message}'
kubectl delete ${k.lower} ${k.lower}-sample          # the ConfigMap goes too
\`\`\`

\`npx converge dev\` does all of this in one step: it starts (or reuses) a local plane named \`dev\` and runs the
operator against it, restarting it whenever a file under src/ changes.

## More

\`\`\`sh
npx converge create api --group ${k.group} --version ${k.version} --kind Another   # a new kind and its controller
npx converge install      # apply the CRDs to the cluster of KUBECONFIG
npx converge uninstall    # delete them (and every object of their kinds)
npx converge run          # install the CRDs and run the operator from source
npx converge --help
\`\`\`

To type-check, add TypeScript: \`npm install -D typescript @types/node\`, then \`npx tsc\`.
`;
}
