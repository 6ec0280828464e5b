// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata polyfill.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// node:crypto makes keys but not certificates; @peculiar/x509 builds them on WebCrypto with typed extensions.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** ECDSA P-256: accepted by every Kubernetes component, and key generation takes milliseconds, not seconds. */
const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface PemPair {
  cert: string;
  key: string;
}

/** Everything a local plane needs: written to files for the components and embedded in the kubeconfig. */
export interface PlanePki {
  ca: PemPair;
  /** kube-apiserver's serving certificate (127.0.0.1, localhost and the in-cluster service names). */
  apiserver: PemPair;
  /** Client certificate of user `converge-admin`, group `system:masters`. */
  admin: PemPair;
  /** Signing key for service-account tokens, and its public half for verification. */
  serviceAccount: { privateKey: string; publicKey: string };
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END ${label}-----\n`;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

async function privatePem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  return pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
}

function serial(): string {
  // Positive 128-bit serial (leading nibble < 8), as RFC 5280 asks.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // Back-dated a little so that small clock differences between processes never make a fresh cert "not yet valid".
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 24 * 60 * 60 * 1000) };
}

interface LeafOptions {
  subject: string;
  usage: "server" | "client";
  dns?: string[];
  ips?: string[];
}

async function leaf(
  ca: { cert: x509.X509Certificate; keys: webcrypto.CryptoKeyPair },
  opts: LeafOptions,
): Promise<PemPair> {
  const keys = await keyPair();
  const names = [
    ...(opts.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: opts.subject,
    issuer: ca.cert.subject,
    ...validity(365),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(
        [opts.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
    ],
  });
  return { cert: cert.toString("pem"), key: await privatePem(keys) };
}

/** Issues a fresh CA, serving and client certificates, and service-account keys for one plane. */
export async function createPlanePki(): Promise<PlanePki> {
  const caKeys = await keyPair();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=converge-local-ca",
    ...validity(3650),
    signingAlgorithm: algorithm,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const ca = { cert: caCert, keys: caKeys };
  const [apiserver, admin, saKeys] = await Promise.all([
    leaf(ca, {
      subject: "CN=kube-apiserver",
      usage: "server",
      dns: [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
      ],
      // 10.0.0.1 is the first address of the service range: the in-cluster `kubernetes` Service.
      ips: ["127.0.0.1", "10.0.0.1"],
    }),
    leaf(ca, { subject: "CN=converge-admin, O=system:masters", usage: "client" }),
    keyPair(),
  ]);
  return {
    ca: { cert: caCert.toString("pem"), key: await privatePem(caKeys) },
    apiserver,
    admin,
    serviceAccount: {
      privateKey: await privatePem(saKeys),
      publicKey: pem("PUBLIC KEY", await webcrypto.subtle.exportKey("spki", saKeys.publicKey)),
    },
  };
}
