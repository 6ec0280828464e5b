import { readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";

/** Where the apiserver is and how to reach it; produced from a kubeconfig or the in-cluster service account. */
export interface ConnectionConfig {
  /** e.g. `https://127.0.0.1:6443` (a path prefix, if any, is kept). */
  server: string;
  tls: {
    ca?: Buffer | string;
    cert?: Buffer | string;
    key?: Buffer | string;
    servername?: string;
    rejectUnauthorized?: boolean;
  };
  /**
   * The `Authorization` header value for the next request, if any. Tokens from exec plugins, auth providers and
   * rotated token files change over time, so this is asked again (it caches internally).
   */
  authorization(options?: { refresh?: boolean }): Promise<string | undefined>;
  /** A name for logs and metrics: the context name, or `in-cluster`. */
  name: string;
}

export interface LoadOptions {
  /** A kubeconfig file (default: `KUBECONFIG`, else `~/.kube/config`, else the in-cluster service account). */
  kubeconfig?: string;
  /** A context other than the current one. */
  context?: string;
  /** Use the pod's service account (`/var/run/secrets/kubernetes.io/serviceaccount`) and nothing else. */
  inCluster?: boolean;
}

/**
 * Loads connection settings with the official @kubernetes/client-node `KubeConfig`, which understands every
 * kubeconfig form (embedded or file certificates, tokens and token files, exec credential plugins, OIDC,
 * in-cluster service accounts). We take only its settings; requests go through our own pooled transport.
 */
export async function loadConnection(options: LoadOptions = {}): Promise<ConnectionConfig> {
  const kc = new KubeConfig();
  if (options.inCluster) kc.loadFromCluster();
  else if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  if (options.context) kc.setCurrentContext(options.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    const where = options.kubeconfig ?? process.env.KUBECONFIG ?? "~/.kube/config";
    throw new Error(`no cluster in the current context of ${where}; set KUBECONFIG or pass a kubeconfig`);
  }
  const user = kc.getCurrentUser();
  // applyToHTTPSOptions reads certificate files synchronously and runs auth plugins, so it is called once for
  // the TLS material and afterwards only when the authorization header needs refreshing.
  const readOptions = async (): Promise<RequestOptions> => {
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return opts;
  };
  const first = await readOptions();
  const tls: ConnectionConfig["tls"] = {};
  if (first.ca) tls.ca = first.ca as Buffer;
  if (first.cert) tls.cert = first.cert as Buffer;
  if (first.key) tls.key = first.key as Buffer;
  if (first.servername) tls.servername = first.servername;
  if (first.rejectUnauthorized !== undefined) tls.rejectUnauthorized = first.rejectUnauthorized;
  // Exec plugins and auth providers hand out expiring tokens (their authenticators cache them until expiry);
  // a static token or client certificate never changes.
  const tokenFile = options.inCluster || !user ? undefined : findTokenFile(options.kubeconfig, user.name);
  const dynamicAuth = Boolean(user && (user.exec || user.authProvider || tokenFile));
  const headerTtlMs = dynamicAuth ? 5_000 : Number.POSITIVE_INFINITY;
  const readHeader = (opts: RequestOptions): string | undefined => {
    const fromFile = tokenFile && !user?.token ? readFileSync(tokenFile, "utf8").trim() : undefined;
    return fromFile ? `Bearer ${fromFile}` : authorizationHeader(opts);
  };
  let cached = { value: readHeader(first), at: Date.now() };
  return {
    server: cluster.server.replace(/\/+$/, ""),
    tls,
    name: options.inCluster ? "in-cluster" : kc.getCurrentContext(),
    async authorization({ refresh = false } = {}) {
      if (!refresh && Date.now() - cached.at < headerTtlMs) return cached.value;
      cached = { value: readHeader(await readOptions()), at: Date.now() };
      return cached.value;
    },
  };
}

function authorizationHeader(opts: RequestOptions): string | undefined {
  const headers = (opts.headers ?? {}) as Record<string, string | undefined>;
  const value = headers.Authorization ?? headers.authorization;
  if (value) return value;
  if (opts.auth) return `Basic ${Buffer.from(opts.auth).toString("base64")}`;
  return undefined;
}

/**
 * kubectl's `tokenFile` user field (a token that another process rotates, re-read like client-go does), which the
 * official JavaScript client does not read. Returns its absolute path for the given user, if any.
 */
function findTokenFile(explicit: string | undefined, userName: string): string | undefined {
  const files = explicit
    ? [explicit]
    : (process.env.KUBECONFIG?.split(":").filter(Boolean) ?? [resolve(homedir(), ".kube", "config")]);
  for (const file of files) {
    let doc: { users?: Array<{ name?: string; user?: { tokenFile?: string } }> };
    try {
      doc = parse(readFileSync(file, "utf8")) as typeof doc;
    } catch {
      continue;
    }
    const tokenFile = doc?.users?.find((u) => u.name === userName)?.user?.tokenFile;
    if (tokenFile) return resolve(dirname(file), tokenFile);
  }
  return undefined;
}
