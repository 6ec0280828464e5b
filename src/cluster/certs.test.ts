import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { test } from "node:test";
import { createPlanePki } from "./certs.ts";

test("plane PKI: leaf certificates are signed by the CA and carry the names and usages components check", async () => {
  const pki = await createPlanePki();
  const ca = new X509Certificate(pki.ca.cert);
  const api = new X509Certificate(pki.apiserver.cert);
  const admin = new X509Certificate(pki.admin.cert);
  assert.equal(ca.ca, true);
  assert.equal(api.ca, false);
  assert.ok(api.verify(ca.publicKey), "serving cert signed by the CA");
  assert.ok(admin.verify(ca.publicKey), "client cert signed by the CA");
  assert.ok(!api.verify(admin.publicKey), "verification is not vacuous");
  for (const name of ["DNS:localhost", "DNS:kubernetes.default.svc", "IP Address:127.0.0.1", "IP Address:10.0.0.1"]) {
    assert.ok(api.subjectAltName?.includes(name), `SAN ${name} in ${api.subjectAltName}`);
  }
  assert.ok(api.checkIP("127.0.0.1"));
  assert.deepEqual(api.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth only");
  assert.deepEqual(admin.keyUsage, ["1.3.6.1.5.5.7.3.2"], "clientAuth only");
  assert.match(admin.subject, /O=system:masters/);
  assert.match(admin.subject, /CN=converge-admin/);
  assert.ok(new Date(api.validTo).getTime() > Date.now() + 300 * 24 * 3600 * 1000, "valid for about a year");
  assert.ok(new Date(api.validFrom).getTime() < Date.now(), "already valid");
  assert.match(pki.serviceAccount.privateKey, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(pki.serviceAccount.publicKey, /^-----BEGIN PUBLIC KEY-----\n/);
});

test("plane PKI: every plane gets its own CA", async () => {
  const [a, b] = await Promise.all([createPlanePki(), createPlanePki()]);
  assert.notEqual(a.ca.cert, b.ca.cert);
  assert.ok(!new X509Certificate(a.apiserver.cert).verify(new X509Certificate(b.ca.cert).publicKey));
});
