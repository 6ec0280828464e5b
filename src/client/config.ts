import { existsSync, readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
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

type Entry<T> = { name: string } & T;
interface KubeconfigCluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
}
interface KubeconfigUser {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  "auth-provider"?: unknown;
}
interface KubeconfigFile {
  "current-context"?: string;
  clusters?: Array<Entry<{ cluster: KubeconfigCluster }>>;
  users?: Array<Entry<{ user: KubeconfigUser }>>;
  contexts?: Array<Entry<{ context: { cluster: string; user?: string } }>>;
}

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Re-read interval for token files, as client-go's cached file token source. */
const tokenFileTtlMs = 60_000;

/**
 * Loads connection settings. Certificates, tokens, token files and basic auth are read here directly — the
 * official @kubernetes/client-node is loaded only for exec credential plugins and auth providers, because
 * importing it costs about half a second and 80 MB (it pulls in its whole generated API), which every operator
 * would pay at start-up for nothing. Several KUBECONFIG files merge as kubectl merges them: the first file that
 * names a cluster, user, context or current-context wins.
 */
export async function loadConnection(options: LoadOptions = {}): Promise<ConnectionConfig> {
  if (options.inCluster) return inCluster();
  const files = options.kubeconfig
    ? [options.kubeconfig]
    : process.env.KUBECONFIG
      ? process.env.KUBECONFIG.split(":").filter(Boolean)
      : [resolve(homedir(), ".kube", "config")];
  const existing = files.filter((f) => existsSync(f));
  if (existing.length === 0) {
    if (!options.kubeconfig && process.env.KUBERNETES_SERVICE_HOST) return inCluster();
    throw new Error(`no kubeconfig at ${files.join(":")}; set KUBECONFIG, or run in a pod with a service account`);
  }
  const merged = merge(existing);
  const contextName = options.context ?? merged.currentContext;
  if (!contextName) throw new Error(`no current-context in ${existing.join(":")}; pass a context`);
  const context = merged.contexts.get(contextName);
  if (!context) throw new Error(`context "${contextName}" is not in ${existing.join(":")}`);
  const cluster = merged.clusters.get(context.context.cluster);
  if (!cluster?.cluster.server) {
    throw new Error(`cluster "${context.context.cluster}" of context "${contextName}" has no server`);
  }
  const user = context.context.user ? merged.users.get(context.context.user) : undefined;
  if (user && (user.user.exec || user.user["auth-provider"])) {
    return viaOfficialClient(existing, contextName, cluster.cluster.server);
  }
  const c = cluster.cluster;
  const u = user?.user ?? {};
  const read = (data: string | undefined, file: string | undefined, base: string): Buffer | undefined =>
    data ? Buffer.from(data, "base64") : file ? readFileSync(resolve(base, file)) : undefined;
  const tls: ConnectionConfig["tls"] = {};
  const ca = read(c["certificate-authority-data"], c["certificate-authority"], cluster.base);
  const cert = read(u["client-certificate-data"], u["client-certificate"], user?.base ?? "");
  const key = read(u["client-key-data"], u["client-key"], user?.base ?? "");
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (c["tls-server-name"]) tls.servername = c["tls-server-name"];
  if (c["insecure-skip-tls-verify"]) tls.rejectUnauthorized = false;
  let authorization: ConnectionConfig["authorization"] = async () => undefined;
  if (u.token) {
    const header = `Bearer ${u.token}`;
    authorization = async () => header;
  } else if (u.tokenFile) {
    authorization = tokenFileReader(resolve(user?.base ?? "", u.tokenFile));
  } else if (u.username !== undefined) {
    const header = `Basic ${Buffer.from(`${u.username}:${u.password ?? ""}`).toString("base64")}`;
    authorization = async () => header;
  }
  return { server: cluster.cluster.server.replace(/\/+$/, ""), tls, name: contextName, authorization };
}

function merge(files: string[]) {
  const clusters = new Map<string, Entry<{ cluster: KubeconfigCluster }> & { base: string }>();
  const users = new Map<string, Entry<{ user: KubeconfigUser }> & { base: string }>();
  const contexts = new Map<string, Entry<{ context: { cluster: string; user?: string } }>>();
  let currentContext: string | undefined;
  for (const file of files) {
    let doc: KubeconfigFile;
    try {
      doc = (parse(readFileSync(file, "utf8")) ?? {}) as KubeconfigFile;
    } catch (err) {
      throw new Error(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
    }
    const base = dirname(resolve(file));
    currentContext ||= doc["current-context"];
    for (const c of doc.clusters ?? []) if (!clusters.has(c.name)) clusters.set(c.name, { ...c, base });
    for (const u of doc.users ?? []) if (!users.has(u.name)) users.set(u.name, { ...u, base });
    for (const c of doc.contexts ?? []) if (!contexts.has(c.name)) contexts.set(c.name, c);
  }
  return { clusters, users, contexts, currentContext };
}

/** A bearer token read from a file that another process rotates, re-read every minute or after a 401. */
function tokenFileReader(path: string): ConnectionConfig["authorization"] {
  let cached: { value: string; at: number } | undefined;
  return async ({ refresh = false } = {}) => {
    if (refresh || !cached || Date.now() - cached.at > tokenFileTtlMs) {
      cached = { value: `Bearer ${readFileSync(path, "utf8").trim()}`, at: Date.now() };
    }
    return cached.value;
  };
}

/** The pod's service account: its token (rotated by the kubelet), the cluster CA, and the service address. */
function inCluster(): ConnectionConfig {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new Error("not in a cluster: KUBERNETES_SERVICE_HOST is not set");
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(`${serviceAccountDir}/ca.crt`) },
    name: "in-cluster",
    authorization: tokenFileReader(`${serviceAccountDir}/token`),
  };
}

/** Exec plugins and auth providers: delegated to the official client, which runs and caches them. */
async function viaOfficialClient(files: string[], context: string, server: string): Promise<ConnectionConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(files[0] as string);
  for (const extra of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(extra);
    kc.mergeConfig(more, true);
  }
  kc.setCurrentContext(context);
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
  // The plugin authenticators cache their credentials until expiry; asking every few seconds is cheap.
  let cached = { value: authorizationHeader(first), at: Date.now() };
  return {
    server: server.replace(/\/+$/, ""),
    tls,
    name: context,
    async authorization({ refresh = false } = {}) {
      if (!refresh && Date.now() - cached.at < 5_000) return cached.value;
      cached = { value: authorizationHeader(await readOptions()), at: Date.now() };
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
