/**
 * Converge as its users get it: the package packed from this checkout (scripts/pack.ts) and served by a local
 * registry (registry.ts, which forwards every other package to npm's own registry). The CLI installed from it
 * makes a project outside the repository with the default `^<version>` dependency; the project installs from the
 * registry, passes its own tests against the test run's plane, bundles, runs a plane through the package's CLI,
 * and builds as its Dockerfile's build stage builds it, from the project folder alone.
 */
import assert from "node:assert/strict";
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve, sep } from "node:path";
import { after, before, test } from "node:test";
import { type PackResult, pack, packageAssets } from "../../scripts/pack.ts";
import { downNamed } from "../../src/cluster/named.ts";
import { testPlane } from "../../src/testing/index.ts";
import { minutes, projectEnv, run } from "./projects.ts";
import { type LocalRegistry, startRegistry } from "./registry.ts";

const repo = resolve(import.meta.dirname, "..", "..");
const plane = await testPlane();
// The Node of this test run (24) first on PATH, as on a user's machine (the machine's own node may be older).
const withNode = (extra: Record<string, string> = {}) =>
  projectEnv({ PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, ...extra });

let tmp: string;
let packed: PackResult;
let registry: LocalRegistry;
let dir: string;
let npmFlags: string[];

before(
  async () => {
    tmp = await realpath(await mkdtemp(join(tmpdir(), "converge-package-")));
    assert.ok(relative(repo, tmp).startsWith(".."), "outside the repository");
    packed = await pack({ dir: join(tmp, "package"), destination: tmp });
    registry = await startRegistry(packed.tarball, { ...packed.manifest });
    // npm's cache makes the rest quick; the converge-sdk packument is never cached (registry.ts).
    npmFlags = ["--no-audit", "--no-fund", "--prefer-offline", `--registry=${registry.url}`];
    // The CLI as a global install has it (not npx, whose cache would keep this build for later runs).
    const cli = join(tmp, "cli");
    await mkdir(cli);
    const version = packed.manifest.version;
    await run("npm", ["install", ...npmFlags, `converge-sdk@${version}`], { cwd: cli, timeoutMs: minutes(3) });
    const bin = join(cli, "node_modules", ".bin", "converge");
    await run(bin, ["init", "demo"], { cwd: tmp, env: withNode(), timeoutMs: 30_000 });
    dir = join(tmp, "demo");
    await run("npm", ["install", ...npmFlags], { cwd: dir, timeoutMs: minutes(4) });
  },
  { timeout: minutes(8) },
);
after(async () => {
  await registry?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function* walk(path: string): AsyncGenerator<string> {
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    yield full;
    if (entry.isDirectory()) yield* walk(full);
  }
}

test("the project depends on the version range and installed the package itself, not a link to the checkout", async () => {
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  assert.deepEqual(pkg.dependencies, { "converge-sdk": `^${packed.manifest.version}` });
  for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
    assert.doesNotMatch(String(spec), /^(file|link):/, name);
  }
  const lock = JSON.parse(await readFile(join(dir, "package-lock.json"), "utf8"));
  const locked = lock.packages["node_modules/converge-sdk"];
  assert.equal(locked.version, packed.manifest.version);
  assert.equal(locked.link, undefined);

  const installed = join(dir, "node_modules", "converge-sdk");
  assert.equal(await realpath(installed), installed);
  // Assets (the template project of `converge init`) are files the CLI copies: their TypeScript is not run here.
  const assets = packageAssets.map((a) => join(installed, "dist", ...a.split("/")) + sep);
  for await (const path of walk(installed)) {
    assert.ok(!(await lstat(path)).isSymbolicLink(), `${path} is a symbolic link`);
    if (assets.some((a) => path.startsWith(a))) continue;
    assert.ok(!path.endsWith(".ts") || path.endsWith(".d.ts"), `${path} is a TypeScript source`);
  }
  const manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8"));
  assert.deepEqual(manifest, packed.manifest);
  assert.equal(await realpath(join(dir, "node_modules", ".bin", "converge")), join(installed, "dist/cli/main.js"));
});

test("npm test in the project passes: unit tests on the fake, end-to-end tests on the test plane", {
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

test("the project type-checks against the package's declarations", { timeout: minutes(2) }, async (t) => {
  // The project has no TypeScript of its own (Node runs the files): check it with this repository's. The
  // declarations too (skipLibCheck off), which the project's own tsconfig skips.
  const config = join(dir, "tsconfig.check.json");
  await writeFile(
    config,
    JSON.stringify({
      extends: "./tsconfig.json",
      compilerOptions: { types: ["node"], typeRoots: [join(repo, "node_modules", "@types")], skipLibCheck: false },
    }),
  );
  t.after(() => rm(config, { force: true }));
  await run(join(repo, "node_modules", ".bin", "tsc"), ["-p", config], { cwd: dir, timeoutMs: 90_000 });
});

test("npm run build bundles the project with the installed package", { timeout: minutes(2) }, async () => {
  const built = await run("npm", ["run", "--silent", "build"], { cwd: dir, timeoutMs: 90_000 });
  assert.match(built.stdout, /dist\/main\.js/);
  assert.match(built.stdout, /loaded from node_modules: nothing/, "converge-sdk and its packages are bundled");
  assert.ok((await stat(join(dir, "dist", "main.js"))).size > 0);
});

test("converge --help and help reach Converge's own help through npx and npm exec", {
  timeout: minutes(2),
}, async () => {
  const usage = /^Usage: converge \[options\] \[command\]\n/;
  for (const [cmd, ...args] of [
    ["npx", "converge", "--help"],
    ["npx", "converge", "help"],
    ["npx", "converge-sdk", "--help"],
    ["npm", "exec", "converge", "--", "--help"],
  ] as const) {
    const { stdout } = await run(cmd, args, { cwd: dir, timeoutMs: 60_000 });
    assert.match(stdout, usage, `${cmd} ${args.join(" ")}`);
  }
  const init = await run("npx", ["converge", "init", "--help"], { cwd: dir, timeoutMs: 60_000 });
  assert.match(init.stdout, /^Usage: converge init \[options\] <name>\n/);
  assert.match(init.stdout.replace(/\s+/g, " "), new RegExp(`\\(default: "\\^${packed.manifest.version}"\\)`));
});

test("the package's CLI starts a named plane under its supervisor and stops it", { timeout: minutes(3) }, async (t) => {
  const state = await mkdtemp(join(tmpdir(), "converge-state-"));
  const env = projectEnv({ CONVERGE_STATE_DIR: state });
  t.after(async () => {
    await downNamed("package-test", { env });
    await rm(state, { recursive: true, force: true });
  });
  const up = await run("npx", ["converge", "cluster", "up", "--minimal", "--name", "package-test"], {
    cwd: dir,
    env,
    timeoutMs: minutes(2),
  });
  assert.match(up.stdout, /^control plane "package-test" is ready at https:\/\/127\.0\.0\.1:\d+/);
  const status = await run("npx", ["converge", "cluster", "status", "--name", "package-test"], {
    cwd: dir,
    env,
    timeoutMs: 30_000,
  });
  assert.match(status.stdout, /^supervisor +\d+ +- +running$/m);
  assert.match(status.stdout, /^kube-apiserver +\d+ .* ok$/m);
  const down = await run("npx", ["converge", "cluster", "down", "--name", "package-test"], {
    cwd: dir,
    env,
    timeoutMs: 60_000,
  });
  assert.match(down.stdout, /^control plane "package-test" stopped and its data removed$/m);
});

/**
 * The Dockerfile's stages before the final one (which only copies their output) as `docker build` runs them,
 * without a container engine: `context` is the build context, `app` stands for /app, RUN is a shell there.
 */
async function runBuildStages(dockerfile: string, context: string, app: string, env: NodeJS.ProcessEnv) {
  const ran: string[] = [];
  for (const line of dockerfile.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [instruction, ...args] = line.split(" ");
    if (instruction === "FROM") {
      if (!line.includes(" AS ")) break;
    } else if (instruction === "WORKDIR") {
      assert.equal(args[0], "/app");
    } else if (instruction === "COPY") {
      const to = args.at(-1) ?? "";
      const sources = args.slice(0, -1);
      for (const from of sources) {
        const known =
          !from.startsWith("-") && !from.startsWith("/") && !from.startsWith("..") && !/[?[]|\*./.test(from);
        assert.ok(known, `COPY ${from}: teach runBuildStages what docker build does with it`);
        const source = join(context, from.replace(/\*$/, ""));
        if (from.endsWith("*") && !(await stat(source).catch(() => undefined))) continue;
        const target = to.endsWith("/") || sources.length > 1 ? join(app, to, from.replace(/\*$/, "")) : join(app, to);
        await cp(source, target, { recursive: true });
      }
    } else if (instruction === "RUN") {
      const command = args.join(" ");
      await run("sh", ["-c", command], { cwd: app, env, timeoutMs: minutes(4) });
      ran.push(command);
    } else {
      assert.fail(`${instruction} before the final stage: teach runBuildStages what docker build does with it`);
    }
  }
  return ran;
}

test("the Dockerfile's build stage needs nothing but the project folder and the registry", {
  timeout: minutes(6),
}, async () => {
  await run("npm", ["run", "--silent", "generate"], { cwd: dir, timeoutMs: 60_000 });
  const dockerfile = await readFile(join(dir, "Dockerfile"), "utf8");
  const context = join(tmp, "context");
  await cp(dir, context, {
    recursive: true,
    filter: (source) => !relative(dir, source).split(sep).includes("node_modules") && source !== join(dir, "dist"),
  });
  const app = join(tmp, "app");
  await mkdir(app);
  // A fresh npm cache: nothing from this machine's installs, every package from the registry.
  const env = withNode({ npm_config_registry: registry.url, npm_config_cache: join(tmp, "npm-cache") });
  const ran = await runBuildStages(dockerfile, context, app, env);
  assert.ok(ran.includes("npx converge build"), ran.join("\n"));
  assert.ok((await stat(join(app, "dist", "main.js"))).size > 0);
  assert.equal(await realpath(join(app, "node_modules", "converge-sdk")), join(app, "node_modules", "converge-sdk"));
});
