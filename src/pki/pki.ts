/**
 * Certificates for Converge's own TLS: the local plane's PKI and the webhook server's CA and serving
 * certificates. node:crypto makes keys but not certificates; @peculiar/x509 builds them on WebCrypto with typed
 * extensions.
 */
// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata polyfill.
import "reflect-metadata";
import { webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** ECDSA P-256: accepted by every Kubernetes component, and key generation takes milliseconds, not seconds. */
const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A certificate and its private key, PEM-encoded (PKCS #8 for the key). */
export interface PemPair {
  cert: string;
  key: string;
}

/** How long a certificate is valid: `days`, or `ms` for short-lived certificates (tests of rotation). */
export type Lifetime = { days: number } | { ms: number };

export interface CaOptions {
  commonName: string;
  lifetime?: Lifetime;
}

export interface LeafOptions {
  /** The subject as an X.500 name, e.g. `CN=webhook` or `CN=admin, O=system:masters`. */
  subject: string;
  usage: "server" | "client";
  dns?: readonly string[];
  ips?: readonly string[];
  /** Default 365 days. */
  lifetime?: Lifetime;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END ${label}-----\n`;
}

/** PEM text that ends with a newline, so that certificates concatenate into a valid bundle. */
function pemOf(cert: x509.X509Certificate): string {
  const text = cert.toString("pem");
  return text.endsWith("\n") ? text : `${text}\n`;
}

function der(text: string): ArrayBuffer {
  const body = text.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  const bytes = Buffer.from(body, "base64");
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

export async function privatePem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  return pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
}

export async function publicPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  return pem("PUBLIC KEY", await webcrypto.subtle.exportKey("spki", keys.publicKey));
}

function serial(): string {
  // Positive 128-bit serial (leading nibble < 8), as RFC 5280 asks.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

function validity(lifetime: Lifetime): { notBefore: Date; notAfter: Date } {
  const ms = "ms" in lifetime ? lifetime.ms : lifetime.days * 24 * 60 * 60 * 1000;
  // Back-dated a little so that small clock differences between processes never make a fresh cert "not yet
  // valid"; not for short lifetimes, whose expiry is the point.
  const notBefore = new Date(Date.now() - Math.min(60 * 60 * 1000, ms / 10));
  return { notBefore, notAfter: new Date(Date.now() + ms) };
}

/** A self-signed CA that can sign leaves (and nothing below them). */
export async function createCa(options: CaOptions): Promise<PemPair> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${options.commonName}`,
    ...validity(options.lifetime ?? { days: 3650 }),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: pemOf(cert), key: await privatePem(keys) };
}

/** A server or client certificate signed by `ca` (which may come back from a Secret, hence PEM). */
export async function issueLeaf(ca: PemPair, options: LeafOptions): Promise<PemPair> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey("pkcs8", der(ca.key), algorithm, false, ["sign"]);
  const keys = await keyPair();
  const names = [
    ...(options.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: options.subject,
    issuer: caCert.subject,
    ...validity(options.lifetime ?? { days: 365 }),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(
        [options.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
    ],
  });
  return { cert: pemOf(cert), key: await privatePem(keys) };
}

/** What a PEM certificate says about itself, through node:crypto (no ASN.1 parsing of our own). */
export function certificateInfo(certPem: string): { notBefore: Date; notAfter: Date; names: string[] } {
  const cert = new X509Certificate(certPem);
  const names = (cert.subjectAltName ?? "")
    .split(",")
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ""))
    .filter(Boolean);
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo), names };
}

/** True when `leafPem` was signed by `caPem`. */
export function signedBy(leafPem: string, caPem: string): boolean {
  return new X509Certificate(leafPem).checkIssued(new X509Certificate(caPem));
}
