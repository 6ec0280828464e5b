import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { cacheDirs, ensureBinaries, findBinary } from "./binaries.ts";
import { versions } from "./versions.ts";

async function executable(path: string): Promise<void> {
  await writeFile(path, "#!/bin/sh\nexit 0\n");
  await chmod(path, 0o755);
}

async function freshEnv(): Promise<NodeJS.ProcessEnv> {
  const root = await mkdtemp(join(tmpdir(), "converge-bin-"));
  return { PATH: process.env.PATH, HOME: process.env.HOME, CONVERGE_CACHE_DIR: join(root, "cache") };
}

test("KUBEBUILDER_ASSETS is used first (the setup-envtest layout)", async () => {
  const env = await freshEnv();
  const assets = await mkdtemp(join(tmpdir(), "converge-assets-"));
  await executable(join(assets, "etcd"));
  assert.deepEqual(await findBinary("etcd", { ...env, KUBEBUILDER_ASSETS: assets }), {
    path: join(assets, "etcd"),
    source: "assets",
  });
  assert.equal(await findBinary("etcd", env), undefined);
});

test("a cached binary counts only when versions.json records the pinned version", async () => {
  const env = await freshEnv();
  const dir = cacheDirs(env).assets;
  await mkdir(dir, { recursive: true });
  await executable(join(dir, "kube-apiserver"));
  await executable(join(dir, "etcd.partial"));
  assert.equal(await findBinary("kube-apiserver", env), undefined, "an unrecorded binary (interrupted build)");
  assert.equal(await findBinary("etcd", env), undefined, "a .partial file is never used");
  await writeFile(join(dir, "versions.json"), JSON.stringify({ "kube-apiserver": "1.0.0" }));
  assert.equal(await findBinary("kube-apiserver", env), undefined, "a binary of another version");
  await writeFile(join(dir, "versions.json"), JSON.stringify({ "kube-apiserver": versions.kubernetes }));
  assert.deepEqual(await findBinary("kube-apiserver", env), { path: join(dir, "kube-apiserver"), source: "cache" });
});

test("kubectl may come from PATH unless a matching one is asked for", async () => {
  const env = await freshEnv();
  const bin = await mkdtemp(join(tmpdir(), "converge-path-"));
  await executable(join(bin, "kubectl"));
  const withPath = { ...env, PATH: bin };
  assert.deepEqual(await findBinary("kubectl", withPath), { path: join(bin, "kubectl"), source: "path" });
  assert.equal(await findBinary("kubectl", withPath, false), undefined);
});

test("missing binaries without building: the error names them and both fixes", async () => {
  const env = await freshEnv();
  await assert.rejects(
    ensureBinaries(["etcd", "kube-apiserver"], { env, build: false }),
    /missing Kubernetes binaries: etcd, kube-apiserver\.[\s\S]*converge cluster binaries[\s\S]*KUBEBUILDER_ASSETS/,
  );
});

test("building without Go says so", async () => {
  const env = { ...(await freshEnv()), PATH: "/nonexistent" };
  await assert.rejects(ensureBinaries(["etcd"], { env, log: () => {} }), /the Go toolchain \(`go`\) is not on PATH/);
});

test("building without a reachable module proxy names the module and the proxy", async () => {
  const env = await freshEnv();
  const scratch = await mkdtemp(join(tmpdir(), "converge-gomod-"));
  const goEnv = { ...env, GOPROXY: "off", GOMODCACHE: join(scratch, "mod"), GOPATH: scratch, GOFLAGS: "" };
  await assert.rejects(
    ensureBinaries(["etcd"], { env: goEnv, log: () => {} }),
    new RegExp(`could not download go\\.etcd\\.io/etcd/server/v3@v${versions.etcd} \\(GOPROXY=off\\)`),
  );
});
