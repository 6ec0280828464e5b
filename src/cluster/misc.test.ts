import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { kubeconfigYaml } from "./kubeconfig.ts";
import { planeDir } from "./paths.ts";
import { assertPortFree, freePorts } from "./ports.ts";
import { LineTail, run } from "./run.ts";
import { credentialsFromKubeconfig } from "./state.ts";
import { stagingVersion } from "./versions.ts";

test("staging modules are versioned v0.<minor>.<patch>", () => {
  assert.equal(stagingVersion("1.37.2"), "v0.37.2");
  assert.throws(() => stagingVersion("2.0"), /unsupported Kubernetes version/);
});

test("plane names must be DNS-label-like", () => {
  assert.match(planeDir("dev-1", { CONVERGE_STATE_DIR: "/s" }), /^\/s\/planes\/dev-1$/);
  for (const bad of ["", "Dev", "../x", "a_b", "-a", "x".repeat(43)]) {
    assert.throws(() => planeDir(bad, {}), /invalid plane name/, bad);
  }
});

test("LineTail keeps only the last lines", () => {
  const tail = new LineTail(3);
  tail.push("one\ntwo\nthr");
  tail.push("ee\nfour\nfive");
  assert.equal(tail.toString(), "three\nfour\nfive");
});

test("run() reports a missing command and a failing one with its output", async () => {
  await assert.rejects(run("converge-no-such-command", []), (err: Error & { notFound?: boolean }) => {
    assert.equal(err.notFound, true);
    assert.match(err.message, /not found on PATH/);
    return true;
  });
  await assert.rejects(run("sh", ["-c", "echo first; echo boom >&2; exit 3"]), /exit code 3\)[\s\S]*boom/);
});

test("free ports are distinct and bindable; a taken port is reported clearly", async () => {
  const ports = await freePorts(5);
  assert.equal(new Set(ports).size, 5);
  const server = createServer();
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: ports[0] }, r));
  try {
    await assert.rejects(assertPortFree(ports[0] as number, "kube-apiserver"), /is already in use/);
  } finally {
    server.close();
  }
  await assertPortFree(ports[1] as number, "kube-apiserver");
});

test("a written kubeconfig reads back to the same credentials; file references and tokens are understood", async () => {
  const dir = await mkdtemp(join(tmpdir(), "converge-kc-"));
  const creds = { server: "https://127.0.0.1:1234", caCert: "CA\n", clientCert: "CERT\n", clientKey: "KEY\n" };
  const yaml = kubeconfigYaml("t", creds);
  assert.equal(parse(yaml)["current-context"], "converge-t");
  await writeFile(join(dir, "kc"), yaml);
  assert.deepEqual(await credentialsFromKubeconfig(join(dir, "kc")), creds);

  await writeFile(join(dir, "ca.crt"), "FILECA\n");
  await writeFile(
    join(dir, "kc2"),
    [
      "apiVersion: v1",
      "kind: Config",
      "current-context: c",
      "contexts: [{name: c, context: {cluster: k, user: u}}]",
      "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:9', certificate-authority: ca.crt}}]",
      "users: [{name: u, user: {token: abc}}]",
    ].join("\n"),
  );
  assert.deepEqual(await credentialsFromKubeconfig(join(dir, "kc2")), {
    server: "https://127.0.0.1:9",
    caCert: "FILECA\n",
    token: "abc",
  });
  assert.equal(await credentialsFromKubeconfig(join(dir, "missing")), undefined);
});
