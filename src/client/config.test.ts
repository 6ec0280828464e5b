import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadConnection } from "./config.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("kubeconfigs: merged like kubectl, files relative to their kubeconfig, token files re-read", async () => {
  const dir = await mkdtemp(join(tmpdir(), "converge-kc-"));
  await writeFile(join(dir, "ca.crt"), "CA-FROM-FILE");
  await writeFile(join(dir, "token"), "first\n");
  await writeFile(
    join(dir, "a.yaml"),
    [
      "current-context: first",
      "clusters: [{name: c1, cluster: {server: 'https://127.0.0.1:1/', certificate-authority: ca.crt}}]",
      "users: [{name: u1, user: {tokenFile: token}}, {name: shared, user: {token: from-a}}]",
      "contexts: [{name: first, context: {cluster: c1, user: u1}}, {name: second, context: {cluster: c2, user: shared}}]",
    ].join("\n"),
  );
  await writeFile(
    join(dir, "b.yaml"),
    [
      "current-context: ignored",
      `clusters: [{name: c2, cluster: {server: 'https://127.0.0.1:2', certificate-authority-data: ${b64("CA2")}, insecure-skip-tls-verify: true, tls-server-name: api.local}}]`,
      "users: [{name: shared, user: {token: from-b}}, {name: basic, user: {username: u, password: p}}]",
      "contexts: [{name: third, context: {cluster: c2, user: basic}}]",
    ].join("\n"),
  );
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = `${join(dir, "a.yaml")}:${join(dir, "b.yaml")}`;
  try {
    const first = await loadConnection();
    assert.equal(first.name, "first");
    assert.equal(first.server, "https://127.0.0.1:1");
    assert.equal(String(first.tls.ca), "CA-FROM-FILE");
    assert.equal(await first.authorization(), "Bearer first");
    await writeFile(join(dir, "token"), "rotated\n");
    assert.equal(await first.authorization(), "Bearer first", "cached for a while");
    assert.equal(await first.authorization({ refresh: true }), "Bearer rotated", "re-read after a 401");

    const second = await loadConnection({ context: "second" });
    assert.equal(await second.authorization(), "Bearer from-a", "the first file naming a user wins");
    assert.equal(String(second.tls.ca), "CA2");
    assert.equal(second.tls.rejectUnauthorized, false);
    assert.equal(second.tls.servername, "api.local");
    const third = await loadConnection({ context: "third" });
    assert.equal(await third.authorization(), `Basic ${b64("u:p")}`);

    await assert.rejects(loadConnection({ context: "nope" }), /context "nope" is not in/);
    await assert.rejects(loadConnection({ kubeconfig: join(dir, "missing.yaml") }), /no kubeconfig at/);
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
});
