import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createCa, issueLeaf } from "../pki/index.ts";
import { DirectoryCertificates, SelfSignedCertificates, type ServingCertificate } from "./certs.ts";

const until = async <T>(what: string, fn: () => T | undefined, ms = 5_000): Promise<T> => {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test("self-signed: a serving certificate for the names, signed by the CA in the bundle", async () => {
  const certs = new SelfSignedCertificates({ dnsNames: ["svc.ns.svc"], ips: ["127.0.0.1"] });
  const c = await certs.start();
  certs.stop();
  const leaf = new X509Certificate(c.cert);
  assert.ok(leaf.checkHost("svc.ns.svc"));
  assert.ok(leaf.checkIP("127.0.0.1"));
  assert.ok(leaf.checkIssued(new X509Certificate(c.caBundle)));
  assert.ok(new Date(leaf.validTo).getTime() > Date.now() + 80 * 24 * 3600 * 1000, "about 90 days");
});

test("self-signed: a CA near its end is replaced, and the bundle trusts old and new until the old expires", async () => {
  const certs = new SelfSignedCertificates({
    dnsNames: ["svc"],
    caLifetime: { ms: 1_500 },
    certLifetime: { ms: 600 },
    checkIntervalMs: 50,
  });
  const first = await certs.start();
  const seen: ServingCertificate[] = [];
  certs.onChange((c) => seen.push(c));
  const rolled = await until("a CA rollover", () =>
    seen.find((c) => !c.caBundle.startsWith(first.caBundle.slice(0, 200))),
  );
  certs.stop();
  const cas = rolled.caBundle.match(/-----BEGIN CERTIFICATE-----/g)?.length;
  assert.equal(cas, 2, "new CA first, then the previous one");
  assert.ok(rolled.caBundle.endsWith(first.caBundle), "the previous CA is still trusted");
  assert.ok(new X509Certificate(rolled.cert).checkIssued(new X509Certificate(rolled.caBundle)), "signed by the new CA");
});

test("a directory of certificates (cert-manager, OLM) is read, and a change there is picked up", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "converge-certs-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await createCa({ commonName: "test" });
  const write = async () => {
    const leaf = await issueLeaf(ca, { subject: "CN=svc", usage: "server", dns: ["svc"] });
    await writeFile(join(dir, "tls.crt"), leaf.cert);
    await writeFile(join(dir, "tls.key"), leaf.key);
    return leaf;
  };
  const one = await write();
  const certs = new DirectoryCertificates(dir, { pollMs: 50 });
  const c = await certs.start();
  assert.equal(c.cert, one.cert);
  assert.equal(c.caBundle, "", "no ca.crt: no bundle");
  const changes: ServingCertificate[] = [];
  certs.onChange((x) => changes.push(x));
  const two = await write();
  await until("the new certificate", () => changes.find((x) => x.cert === two.cert));
  certs.stop();
  await assert.rejects(new DirectoryCertificates(join(dir, "missing")).start(), /cannot read .*missing\/tls.crt/);
});
