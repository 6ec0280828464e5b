import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import type { ClusterCredentials } from "./http.ts";

/** One component as recorded in a plane's state file. */
export interface ComponentState {
  name: string;
  pid: number;
  /** Absolute path of the binary, used to tell our process from a later one that reused the pid. */
  binary: string;
  ports: Record<string, number>;
  /** Health endpoint. */
  health: string;
  logFile: string;
}

/** `<dir>/state.json`: what another process (the CLI's `status` and `down`) needs to find a running plane. */
export interface PlaneState {
  name: string;
  mode: "full" | "minimal";
  dir: string;
  server: string;
  kubeconfig: string;
  /** The detached process that owns the components when the plane was started by `converge cluster up`. */
  supervisorPid: number | undefined;
  components: ComponentState[];
}

export function stateFile(dir: string): string {
  return join(dir, "state.json");
}

export async function readPlaneState(dir: string): Promise<PlaneState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), "utf8")) as PlaneState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read ${stateFile(dir)}: ${(err as Error).message}`);
  }
}

export async function writePlaneState(dir: string, state: PlaneState): Promise<void> {
  const file = stateFile(dir);
  await writeFile(`${file}.partial`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.partial`, file);
}

interface KubeconfigFile {
  "current-context"?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{ name: string; cluster: Record<string, string | boolean | undefined> & { server: string } }>;
  users?: Array<{ name: string; user: Record<string, string | undefined> }>;
}

/**
 * Reads the current context's server and credentials from a kubeconfig: embedded or file-referenced CA,
 * client certificate and key, or a bearer token. Exec plugins and auth providers are for the full client
 * layer; here they yield undefined. Relative file paths resolve against the kubeconfig's folder.
 */
export async function credentialsFromKubeconfig(path: string): Promise<ClusterCredentials | undefined> {
  let cfg: KubeconfigFile;
  try {
    cfg = parse(await readFile(path, "utf8")) as KubeconfigFile;
  } catch {
    return undefined;
  }
  const ctx = cfg.contexts?.find((c) => c.name === cfg["current-context"])?.context;
  const cluster = cfg.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
  const user = cfg.users?.find((u) => u.name === ctx?.user)?.user ?? {};
  if (!cluster) return undefined;
  const base = dirname(path);
  const load = async (data: unknown, file: unknown): Promise<string | undefined> => {
    if (typeof data === "string" && data) return Buffer.from(data, "base64").toString("utf8");
    if (typeof file === "string" && file) return readFile(resolve(base, file), "utf8");
    return undefined;
  };
  const [caCert, clientCert, clientKey, tokenFromFile] = await Promise.all([
    load(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    load(user["client-certificate-data"], user["client-certificate"]),
    load(user["client-key-data"], user["client-key"]),
    load(undefined, user.tokenFile),
  ]);
  const token = user.token ?? tokenFromFile?.trim();
  if (!token && !(clientCert && clientKey)) return undefined;
  return {
    server: cluster.server,
    ...(caCert ? { caCert } : {}),
    ...(clientCert ? { clientCert } : {}),
    ...(clientKey ? { clientKey } : {}),
    ...(token ? { token } : {}),
    ...(cluster["insecure-skip-tls-verify"] === true ? { insecureSkipTlsVerify: true } : {}),
  };
}
