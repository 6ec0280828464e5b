/**
 * `converge init` end to end: a new project, installed with npm (its `converge` is this repository), whose own
 * tests pass against the test run's plane, whose `converge generate` is idempotent, and whose `converge install`,
 * `uninstall`, `run` and `dev` work against a real cluster.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { appendFile, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { Client, isNotFound } from "../../src/client/index.ts";
import { downNamed } from "../../src/cluster/named.ts";
import { eventually, testPlane } from "../../src/testing/index.ts";
import { apiextensionsv1, corev1 } from "../../src/types/index.ts";
import { resourceType } from "../../src/types/resource.ts";

const repo = resolve(import.meta.dirname, "..", "..");
const cli = join(repo, "src", "cli", "main.ts");
const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "init-test" });
after(() => client.close());

const Sample = resourceType<{ metadata?: { name?: string; namespace?: string }; spec: { message: string } }>({
  group: "example.com",
  version: "v1alpha1",
  kind: "Sample",
  plural: "samples",
  namespaced: true,
});

/**
 * The environment for commands in the project: without what npm and the test runner set for this process (a
 * nested npm would take `npm_config_*` for its own configuration, a nested `node --test` would report to us).
 */
function projectEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "INIT_CWD" && !k.startsWith("NODE_TEST")),
  );
  return { ...env, ...extra };
}

interface Result {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion within a time limit; rejects with its output when it fails. */
function run(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }) {
  return new Promise<Result>((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      { cwd: options.cwd, env: options.env ?? projectEnv(), timeout: options.timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const why = err.killed ? `killed after ${options.timeoutMs} ms` : `exit code ${String(err.code)}`;
          reject(new Error(`${cmd} ${args.join(" ")} failed (${why})\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        } else resolvePromise({ stdout, stderr });
      },
    );
  });
}

/** A long-running command whose stderr is collected; killed after the test whatever happens. */
function start(args: string[], cwd: string, env: NodeJS.ProcessEnv, t: { after: (fn: () => void) => void }) {
  const child: ChildProcess = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const output = { stderr: "", stdout: "" };
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    output.stderr += c;
  });
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    output.stdout += c;
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  t.after(() => child.kill("SIGKILL"));
  const count = (text: string) => output.stderr.split(text).length - 1;
  return { child, output, exited, count };
}

const minutes = (n: number) => n * 60_000;
let tmp: string;
let dir: string;

before(
  async () => {
    tmp = await realpath(await mkdtemp(join(tmpdir(), "converge-init-")));
    dir = join(tmp, "demo");
    await run(process.execPath, [cli, "init", "demo"], { cwd: tmp, timeoutMs: 30_000 });
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
    assert.equal(pkg.dependencies["converge-sdk"], `file:${repo}`);
    // The workspace's own converge and npm's cache: only what is not cached (the node runtime, at worst) is fetched.
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: dir, timeoutMs: minutes(5) });
    assert.equal(await realpath(join(dir, "node_modules", "converge-sdk")), await realpath(repo));
  },
  { timeout: minutes(6) },
);
after(() => rm(tmp, { recursive: true, force: true }));

test("npm test in the new project passes: unit tests on the fake, end-to-end tests on the test plane", {
  timeout: minutes(5),
}, async () => {
  const { stdout } = await run("npm", ["test"], {
    cwd: dir,
    env: projectEnv({ CONVERGE_TEST_KUBECONFIG: plane.kubeconfig }),
    timeoutMs: minutes(4),
  });
  assert.match(stdout, /ℹ pass 3\n/, stdout);
  assert.match(stdout, /ℹ fail 0\n/, stdout);
});

test("converge generate writes the CRD once, then nothing; --check is clean", { timeout: minutes(2) }, async () => {
  const first = await run("npm", ["run", "--silent", "generate"], { cwd: dir, timeoutMs: 60_000 });
  assert.match(first.stdout, /^wrote config\/crd\/example\.com_samples\.yaml$/m);
  assert.match(first.stdout, /^wrote charts\/demo\/Chart\.yaml$/m);
  const written = Number(/^(\d+) written, 0 unchanged$/m.exec(first.stdout)?.[1]);
  assert.ok(written > 1, first.stdout);
  const crd = await readFile(join(dir, "config", "crd", "example.com_samples.yaml"), "utf8");
  assert.match(crd, /^# Generated by `converge generate`/);
  assert.match(crd, /name: samples\.example\.com/);
  const second = await run("npm", ["run", "--silent", "generate"], { cwd: dir, timeoutMs: 60_000 });
  assert.equal(second.stdout, `nothing to write: ${written} generated files up to date\n`);
  assert.equal(await readFile(join(dir, "config", "crd", "example.com_samples.yaml"), "utf8"), crd);
  const check = await run("npx", ["converge", "generate", "--check"], { cwd: dir, timeoutMs: 60_000 });
  assert.equal(check.stdout, `${written} generated files up to date\n`);
});

test("the new project type-checks", { timeout: minutes(2) }, async (t) => {
  // The project has no TypeScript of its own (Node runs the files): check it with this repository's.
  const config = join(dir, "tsconfig.check.json");
  await writeFile(
    config,
    JSON.stringify({
      extends: "./tsconfig.json",
      compilerOptions: { types: ["node"], typeRoots: [join(repo, "node_modules", "@types")] },
    }),
  );
  t.after(() => rm(config, { force: true }));
  await run(join(repo, "node_modules", ".bin", "tsc"), ["-p", config], { cwd: dir, timeoutMs: 90_000 });
});

test("converge install and uninstall apply and delete the CRDs", { timeout: minutes(2) }, async () => {
  const env = projectEnv({ KUBECONFIG: plane.kubeconfig });
  const installed = await run(process.execPath, [cli, "install"], { cwd: dir, env, timeoutMs: 60_000 });
  assert.equal(installed.stdout, "installed CRD samples.example.com\n");
  const crd = await client.get(apiextensionsv1.CustomResourceDefinition, "samples.example.com");
  assert.ok(crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True"));

  const removed = await run(process.execPath, [cli, "uninstall"], { cwd: dir, env, timeoutMs: 90_000 });
  assert.equal(removed.stdout, "deleted CRD samples.example.com\n");
  await assert.rejects(client.get(apiextensionsv1.CustomResourceDefinition, "samples.example.com"), isNotFound);
  const again = await run(process.execPath, [cli, "uninstall"], { cwd: dir, env, timeoutMs: 60_000 });
  assert.equal(again.stdout, "CRD samples.example.com is not installed\n");
});

test("converge run installs the CRDs and runs the operator from source until SIGTERM", {
  timeout: minutes(2),
}, async (t) => {
  const namespace = await plane.namespace(t);
  const env = projectEnv({ KUBECONFIG: plane.kubeconfig, CONVERGE_LOG_LEVEL: "warn" });
  const op = start(["run", "--namespace", namespace], dir, env, t);
  await eventually("the operator to start", () => op.output.stderr.includes("running demo against"), 60_000);
  await eventually("the CRD to be served", () => client.list(Sample, { namespace }));
  const key = { namespace, name: "hello" };
  await client.create(Sample, { metadata: { ...key }, spec: { message: "from run" } });
  await eventually("the ConfigMap", async () => (await client.get(corev1.ConfigMap, key)).data?.message === "from run");
  await client.delete(Sample, key); // its finalizer needs the running operator
  await eventually("the Sample to be gone", () => client.get(Sample, key).then(() => false, isNotFound));
  op.child.kill("SIGTERM");
  assert.equal(await op.exited, 0, op.output.stderr);
  assert.match(op.output.stderr, /demo stopped/);
});

test("converge build bundles the project; the bundle runs the operator as the image's CMD runs it", {
  timeout: minutes(2),
}, async (t) => {
  await run("npm", ["run", "--silent", "generate"], { cwd: dir, timeoutMs: 60_000 }); // the Dockerfile
  const built = await run("npm", ["run", "--silent", "build"], { cwd: dir, timeoutMs: 60_000 });
  assert.match(built.stdout, /dist\/main\.js/);
  assert.match(built.stdout, /loaded from node_modules: nothing/, "converge and its packages are bundled");
  const namespace = await plane.namespace(t);
  const env = projectEnv({ KUBECONFIG: plane.kubeconfig, CONVERGE_LOG_LEVEL: "warn" });
  // The Dockerfile's CMD, from the project folder: node <runtimeNodeFlags> dist/main.js.
  const cmd = /^CMD (.*)$/m.exec(await readFile(join(dir, "Dockerfile"), "utf8"))?.[1] ?? "";
  const [node, ...args] = JSON.parse(cmd) as string[];
  assert.equal(node, "node");
  assert.equal(args.at(-1), "dist/main.js");
  const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  t.after(() => child.kill("SIGKILL"));
  await eventually("the CRD to be served", () => client.list(Sample, { namespace }), 60_000).catch((err: Error) => {
    throw new Error(`${err.message}\n--- the operator's stderr\n${stderr}`);
  });
  const key = { namespace, name: "bundled" };
  await client.create(Sample, { metadata: { ...key }, spec: { message: "from the bundle" } });
  await eventually(
    "the ConfigMap",
    async () => (await client.get(corev1.ConfigMap, key)).data?.message === "from the bundle",
  );
  await client.delete(Sample, key);
  await eventually("the Sample to be gone", () => client.get(Sample, key).then(() => false, isNotFound));
  child.kill("SIGTERM");
  assert.equal(await exited, 0, stderr);
  assert.doesNotMatch(stderr, /"level":(40|50)/, "no warning or error");
});

test("converge dev starts a local plane, runs the operator, restarts it on a change, and leaves the plane up", {
  timeout: minutes(4),
}, async (t) => {
  const state = await mkdtemp(join(tmpdir(), "converge-state-"));
  const env = projectEnv({ CONVERGE_STATE_DIR: state, CONVERGE_LOG_LEVEL: "warn" });
  t.after(async () => {
    await downNamed("dev", { env });
    await rm(state, { recursive: true, force: true });
  });
  const controller = join(dir, "src", "controller.ts");
  const original = await readFile(controller, "utf8");
  t.after(() => writeFile(controller, original));

  const dev = start(["dev", "--minimal", "--debounce", "100"], dir, env, t);
  await eventually("the operator to run", () => dev.count("running demo against") === 1, minutes(3));
  assert.match(dev.output.stderr, /starting control plane "dev"/);
  await new Promise((r) => setTimeout(r, 300));
  await appendFile(controller, "// edited\n");
  await eventually("a restart", () => dev.count("running demo against") === 2, 60_000);
  assert.match(dev.output.stderr, /changed: src\/controller\.ts; restarting the operator/);

  dev.child.kill("SIGINT");
  assert.equal(await dev.exited, 0, dev.output.stderr);
  assert.match(
    dev.output.stderr,
    /The control plane "dev" is still running:\n {2}export KUBECONFIG=.*\n {2}stop it with: converge cluster down --name dev/,
  );

  // A second dev reuses the running plane.
  const again = start(["dev"], dir, env, t);
  await eventually("the operator to run again", () => again.count("running demo against") === 1, minutes(1));
  assert.match(again.output.stderr, /reusing control plane "dev"/);
  again.child.kill("SIGTERM");
  assert.equal(await again.exited, 0, again.output.stderr);
});
