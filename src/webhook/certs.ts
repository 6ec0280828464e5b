/**
 * The webhook server's certificates. By default Converge makes them itself: a CA and a serving certificate for
 * the webhook Service's DNS names (and 127.0.0.1 for local runs), renewed when a third of their life is left. In
 * a cluster they live in a Secret, so every replica serves the same certificate and the CA bundle written into
 * the webhook configurations fits them all. A user who brings certificates (cert-manager) points at the mounted
 * directory instead; changes there are picked up as they come.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubeClient } from "../client/api.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../client/errors.ts";
import { certificateInfo, createCa, issueLeaf, type Lifetime, signedBy } from "../pki/index.ts";
import { Secret } from "../types/generated/core.v1.ts";

/** What the server serves, and the CA bundle clients (the apiserver) need to trust it. */
export interface ServingCertificate {
  cert: string;
  key: string;
  /** PEM CA certificates, newest first (two during a CA rollover). */
  caBundle: string;
}

export interface CertificateProvider {
  /** Loads or makes the certificate; then keeps it fresh until `stop()`. */
  start(): Promise<ServingCertificate>;
  /** The certificate in use (after `start`). */
  current(): ServingCertificate;
  /** Called with each new certificate (rotation, or a change in the Secret or directory). */
  onChange(listener: (certificate: ServingCertificate) => void): void;
  stop(): void;
}

export interface SelfSignedOptions {
  /** DNS names of the serving certificate, e.g. `<service>.<namespace>.svc`. */
  dnsNames: readonly string[];
  /** IP addresses of the serving certificate (e.g. 127.0.0.1 for an apiserver on the same host). */
  ips?: readonly string[];
  /** Default 10 years. */
  caLifetime?: Lifetime;
  /** Default 90 days. */
  certLifetime?: Lifetime;
  /**
   * Where the certificates are shared between replicas; in memory only when unset. `client` may be a function,
   * read at start (when the client is made after the provider).
   */
  secret?: { client: KubeClient | (() => KubeClient); namespace: string; name: string };
  /** How often expiry and the Secret are checked (default: a tenth of the serving lifetime, at most 1 min). */
  checkIntervalMs?: number;
  /** Reports a failed check (the current certificate stays in use and the check is retried). */
  onError?: (err: unknown) => void;
}

interface Material {
  ca: { cert: string; key: string };
  /** The CA before the last CA rollover, trusted until it expires (a replica may still serve its leaf). */
  previousCa?: string;
  leaf: { cert: string; key: string };
}

const lifetimeMs = (l: Lifetime) => ("ms" in l ? l.ms : l.days * 24 * 60 * 60 * 1000);

/** A third of the life left, or less: time to renew (cert-manager's default is the same). */
function dueForRenewal(certPem: string, now = Date.now()): boolean {
  const { notBefore, notAfter } = certificateInfo(certPem);
  return notAfter.getTime() - now < (notAfter.getTime() - notBefore.getTime()) / 3;
}

const sameNames = (certPem: string, wanted: readonly string[]) => {
  const names = certificateInfo(certPem).names;
  return wanted.length === names.length && wanted.every((n) => names.includes(n));
};

/** Certificates Converge makes, renews and (optionally) shares through a Secret. */
export class SelfSignedCertificates implements CertificateProvider {
  private material: Material | undefined;
  private version: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(c: ServingCertificate) => void> = [];
  private checking: Promise<void> = Promise.resolve();

  private readonly options: SelfSignedOptions;

  constructor(options: SelfSignedOptions) {
    this.options = options;
    if (options.dnsNames.length === 0 && !options.ips?.length) throw new Error("a serving certificate needs a name");
  }

  async start(): Promise<ServingCertificate> {
    await this.check();
    const certLife = lifetimeMs(this.options.certLifetime ?? { days: 90 });
    const every = this.options.checkIntervalMs ?? Math.min(60_000, Math.max(100, certLife / 10));
    this.timer = setInterval(() => {
      this.checking = this.checking.then(() => this.check()).catch((err) => this.options.onError?.(err));
    }, every);
    this.timer.unref();
    return this.current();
  }

  current(): ServingCertificate {
    if (!this.material) throw new Error("certificates not started");
    return toServing(this.material);
  }

  onChange(listener: (c: ServingCertificate) => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round: read the shared copy, renew what is due, store it, and tell listeners about any change. */
  private async check(): Promise<void> {
    const before = this.material?.leaf.cert;
    for (let attempt = 0; ; attempt++) {
      const stored = await this.load();
      const next = await this.renewed(stored);
      if (next === stored) break;
      try {
        await this.save(next);
        break;
      } catch (err) {
        // Another replica wrote first: take its result on the next pass.
        if (attempt < 3 && (isConflict(err) || isAlreadyExists(err))) continue;
        throw err;
      }
    }
    if (this.material && this.material.leaf.cert !== before) {
      const serving = toServing(this.material);
      for (const l of this.listeners) l(serving);
    }
  }

  private async renewed(m: Material | undefined): Promise<Material> {
    const ips = this.options.ips ?? [];
    const names = [...this.options.dnsNames, ...ips];
    let ca = m?.ca;
    let previousCa = m?.previousCa;
    if (previousCa && certificateInfo(previousCa).notAfter.getTime() < Date.now()) previousCa = undefined;
    if (!ca || dueForRenewal(ca.cert)) {
      previousCa = ca?.cert;
      ca = await createCa({ commonName: "converge-webhook-ca", lifetime: this.options.caLifetime ?? { days: 3650 } });
    }
    let leaf = m?.leaf;
    if (
      !leaf ||
      ca !== m?.ca ||
      dueForRenewal(leaf.cert) ||
      !signedBy(leaf.cert, ca.cert) ||
      !sameNames(leaf.cert, names)
    ) {
      leaf = await issueLeaf(ca, {
        subject: `CN=${this.options.dnsNames[0] ?? ips[0]}`,
        usage: "server",
        dns: this.options.dnsNames,
        ips,
        lifetime: this.options.certLifetime ?? { days: 90 },
      });
    }
    if (m && ca === m.ca && leaf === m.leaf && previousCa === m.previousCa) return m;
    return { ca, leaf, ...(previousCa ? { previousCa } : {}) };
  }

  private async load(): Promise<Material | undefined> {
    const s = this.options.secret;
    if (!s) return this.material;
    try {
      const secret = await clientOf(s).get(Secret, { namespace: s.namespace, name: s.name });
      this.version = secret.metadata?.resourceVersion;
      const d = (k: string) => Buffer.from(secret.data?.[k] ?? "", "base64").toString();
      const bundle = splitPem(d("ca.crt"));
      const material: Material = {
        ca: { cert: bundle[0] ?? "", key: d("ca.key") },
        leaf: { cert: d("tls.crt"), key: d("tls.key") },
        ...(bundle[1] ? { previousCa: bundle[1] } : {}),
      };
      if (!material.ca.cert || !material.ca.key || !material.leaf.cert || !material.leaf.key) return undefined;
      // Keep object identity when nothing changed, so that `renewed` can tell.
      if (this.material && sameMaterial(this.material, material)) return this.material;
      this.material = material;
      return material;
    } catch (err) {
      if (isNotFound(err)) {
        this.version = undefined;
        return undefined;
      }
      throw err;
    }
  }

  private async save(m: Material): Promise<void> {
    const s = this.options.secret;
    if (s) {
      const b64 = (v: string) => Buffer.from(v).toString("base64");
      const body: Secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: s.name,
          namespace: s.namespace,
          labels: { "app.kubernetes.io/managed-by": "converge" },
          ...(this.version ? { resourceVersion: this.version } : {}),
        },
        type: "kubernetes.io/tls",
        data: {
          "tls.crt": b64(m.leaf.cert),
          "tls.key": b64(m.leaf.key),
          "ca.crt": b64(toServing(m).caBundle),
          "ca.key": b64(m.ca.key),
        },
      };
      const client = clientOf(s);
      const saved = this.version ? await client.update(Secret, body) : await client.create(Secret, body);
      this.version = saved.metadata?.resourceVersion;
    }
    this.material = m;
  }
}

const clientOf = (s: { client: KubeClient | (() => KubeClient) }): KubeClient =>
  typeof s.client === "function" ? s.client() : s.client;

function toServing(m: Material): ServingCertificate {
  return { cert: m.leaf.cert, key: m.leaf.key, caBundle: [m.ca.cert, m.previousCa].filter(Boolean).join("") };
}

function sameMaterial(a: Material, b: Material): boolean {
  return (
    a.ca.cert === b.ca.cert && a.ca.key === b.ca.key && a.leaf.cert === b.leaf.cert && a.previousCa === b.previousCa
  );
}

function splitPem(text: string): string[] {
  return (
    text
      .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)
      ?.map((c) => (c.endsWith("\n") ? c : `${c}\n`)) ?? []
  );
}

/**
 * Certificates from a directory: `tls.crt`, `tls.key` and `ca.crt` (a mounted cert-manager Secret), re-read
 * every `pollMs` (default 10 s; kubelet updates mounted Secrets by swapping a symlink, which fs.watch misses).
 */
export class DirectoryCertificates implements CertificateProvider {
  private cert: ServingCertificate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(c: ServingCertificate) => void> = [];

  private readonly dir: string;
  private readonly options: { pollMs?: number; onError?: (err: unknown) => void };

  constructor(dir: string, options: { pollMs?: number; onError?: (err: unknown) => void } = {}) {
    this.dir = dir;
    this.options = options;
  }

  async start(): Promise<ServingCertificate> {
    this.cert = await this.read();
    this.timer = setInterval(() => {
      this.read().then(
        (c) => {
          if (c.cert === this.cert?.cert && c.key === this.cert.key) return;
          this.cert = c;
          for (const l of this.listeners) l(c);
        },
        (err) => this.options.onError?.(err),
      );
    }, this.options.pollMs ?? 10_000);
    this.timer.unref();
    return this.cert;
  }

  current(): ServingCertificate {
    if (!this.cert) throw new Error("certificates not started");
    return this.cert;
  }

  onChange(listener: (c: ServingCertificate) => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async read(): Promise<ServingCertificate> {
    const file = (name: string) =>
      readFile(join(this.dir, name), "utf8").catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT" && name === "ca.crt") return "";
        throw new Error(`webhook certificates: cannot read ${join(this.dir, name)}: ${err.message}`);
      });
    // Read together, reported in order: a missing directory names tls.crt, whichever read failed first.
    const [cert, key, caBundle] = await Promise.allSettled([file("tls.crt"), file("tls.key"), file("ca.crt")]);
    for (const r of [cert, key, caBundle]) if (r.status === "rejected") throw r.reason;
    const value = (r: PromiseSettledResult<string>) => (r.status === "fulfilled" ? r.value : "");
    return { cert: value(cert), key: value(key), caBundle: value(caBundle) };
  }
}
