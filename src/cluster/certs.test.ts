import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { connect, createServer } from "node:tls";
import { createCa } from "../pki/index.ts";
import { createPlanePki } from "./certs.ts";

test("plane PKI: leaf certificates are signed by their CAs and carry the names and usages components check", async () => {
  const pki = await createPlanePki();
  const ca = new X509Certificate(pki.ca.cert);
  const clientCa = new X509Certificate(pki.clientCa.cert);
  const api = new X509Certificate(pki.apiserver.cert);
  const admin = new X509Certificate(pki.admin.cert);
  assert.equal(ca.ca, true);
  assert.equal(clientCa.ca, true);
  assert.equal(api.ca, false);
  assert.ok(api.verify(ca.publicKey), "serving cert signed by the serving CA");
  assert.ok(admin.verify(clientCa.publicKey), "client cert signed by the client CA");
  // The client certificate's issuer is not among the CAs clients trust, so a TLS client does not send it along.
  assert.ok(!admin.checkIssued(ca), "client cert not issued by the serving CA");
  assert.ok(!api.checkIssued(clientCa), "serving cert not issued by the client CA");
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

test("plane PKI: a TLS client with the plane's credentials presents its own certificate alone", async () => {
  const pki = await createPlanePki();
  // The server trusts an unrelated CA, so that the chain it reports is what the client sent, not what it built.
  const unrelated = await createCa({ commonName: "unrelated-ca" });
  const sent = new Promise<number>((resolve) => {
    const server = createServer(
      { ...pki.apiserver, ca: unrelated.cert, requestCert: true, rejectUnauthorized: false },
      (socket) => {
        let count = 0;
        const seen = new Set<string>();
        for (let c = socket.getPeerCertificate(true); c?.fingerprint256 && !seen.has(c.fingerprint256); ) {
          seen.add(c.fingerprint256);
          count++;
          c = c.issuerCertificate;
        }
        socket.end();
        server.close();
        resolve(count);
      },
    );
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      const client = connect({ host: "127.0.0.1", port, ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key });
      client.on("error", () => {});
      client.resume();
    });
  });
  assert.equal(await sent, 1, "only the leaf: the client CA is not among the CAs the client trusts");
});
