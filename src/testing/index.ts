/**
 * `converge-sdk/testing`: a real control plane for tests. One plane per test run (started by the global setup, or
 * by the first test file that asks, or given from outside), an isolated namespace per test, and operators run as
 * their own processes against it (`spawnOperator`).
 *
 * Which cluster a test run uses, in order:
 * 1. `CONVERGE_TEST_KUBECONFIG`: a kubeconfig to use as it is (the global setup sets it for its plane);
 * 2. `CONVERGE_TEST_USE_EXISTING_CLUSTER=true`: the cluster of `KUBECONFIG` (never implied: tests create and
 *    delete namespaces, so pointing them at a real cluster must be a decision);
 * 3. otherwise a new plane owned by the test process, stopped when its tests end.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { Client } from "../client/client.ts";
import { ensureBinaries } from "../cluster/binaries.ts";
import { ControlPlane, type PlaneMode } from "../cluster/control-plane.ts";
import { type ClusterCredentials, PlaneHttp } from "../cluster/http.ts";
import { credentialsFromKubeconfig } from "../cluster/state.ts";
import { FaultProxy } from "./fault-proxy.ts";

export {
  type FakeAction,
  FakeClient,
  type FakeClientOptions,
  type FakeInterceptor,
  fakeApiError,
} from "../client/fake/index.ts";
// A logger that writes nothing, for managers in tests.
export { silentLogger } from "../controller/logger.ts";

export {
  type FaultAction,
  type FaultHandle,
  type FaultMatch,
  FaultProxy,
  type FaultProxyOptions,
  type FaultRule,
  type KubeVerb,
  type ProxiedRequest,
  requestInfo,
} from "./fault-proxy.ts";
export {
  type OperatorExit,
  type OperatorProcess,
  type SpawnOperatorOptions,
  spawnOperator,
} from "./operator-process.ts";

export interface TestPlane {
  /** Path of a kubeconfig for the plane (admin credentials). */
  kubeconfig: string;
  server: string;
  credentials: ClusterCredentials;
  /** A small HTTPS+JSON client authenticated as the kubeconfig's user. */
  http: PlaneHttp;
  /** The plane this process started, if it started one (undefined when reusing a cluster). */
  plane: ControlPlane | undefined;
  /**
   * Creates a namespace for one test, named after it, deleted after it (`t.after`), labelled
   * `converge.dev/test=true` so that leftovers of a killed run are easy to find.
   */
  namespace(t?: { name: string; after: (fn: () => Promise<void>) => void }): Promise<string>;
  /**
   * A FaultProxy in front of the plane and a Client that talks through it, both closed after the test (`t.after`):
   * the client to give the code under test, while the test's own client reads the plane directly.
   */
  throughProxy(
    t: { after: (fn: () => Promise<void>) => void },
    options?: { fieldManager?: string; maxHoldMs?: number },
  ): Promise<{ proxy: FaultProxy; client: Client }>;
  /**
   * Runs kubectl (the plane's own, built beside its binaries) with the plane's kubeconfig and `input` on stdin;
   * resolves with its exit code and output, whatever the code (a test asserts on a refusal as on a success).
   */
  kubectl(args: readonly string[], input?: string): Promise<KubectlResult>;
  /** Stops the plane if this process started it; otherwise just closes connections. */
  stop(): Promise<void>;
}

/** What a kubectl run gave. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestPlaneOptions {
  /** Mode of a plane started here (default: `CONVERGE_TEST_PLANE_MODE`, else `full`). */
  mode?: PlaneMode;
  /** Register teardown with node:test's `after` (default true). Pass false with other runners and call stop(). */
  registerAfter?: boolean;
}

let shared: Promise<TestPlane> | undefined;

/** The test run's plane: reused within a process, started on first use if none was given. */
export function testPlane(options: TestPlaneOptions = {}): Promise<TestPlane> {
  if (!shared) {
    shared = connect(options);
    if (options.registerAfter !== false) after(async () => (await shared)?.stop());
  }
  return shared;
}

async function connect(options: TestPlaneOptions): Promise<TestPlane> {
  const env = process.env;
  let kubeconfig = env.CONVERGE_TEST_KUBECONFIG;
  if (!kubeconfig && env.CONVERGE_TEST_USE_EXISTING_CLUSTER === "true") {
    kubeconfig = env.KUBECONFIG?.split(":")[0] || join(homedir(), ".kube", "config");
  }
  if (kubeconfig) {
    const credentials = await credentialsFromKubeconfig(kubeconfig);
    if (!credentials) {
      throw new Error(`cannot use ${kubeconfig}: no server with a client certificate or token in its current context`);
    }
    return handle(kubeconfig, credentials, undefined);
  }
  const mode = options.mode ?? (env.CONVERGE_TEST_PLANE_MODE === "minimal" ? "minimal" : "full");
  const plane = await ControlPlane.start({ name: "test", mode, log: (l) => process.stderr.write(`# ${l}\n`) });
  return handle(plane.kubeconfigPath, plane.credentials, plane);
}

function handle(kubeconfig: string, credentials: ClusterCredentials, plane: ControlPlane | undefined): TestPlane {
  const http = plane?.http ?? new PlaneHttp(credentials);
  let kubectlPath: Promise<string> | undefined;
  return {
    kubeconfig,
    server: credentials.server,
    credentials,
    http,
    plane,
    async namespace(t) {
      const name = namespaceName(t?.name ?? "test");
      await http.expectOk("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { "converge.dev/test": "true" } },
      });
      // Deletion is asynchronous (the namespace controller empties it); tests do not wait for it.
      t?.after(async () => {
        await http.request("DELETE", `/api/v1/namespaces/${name}`);
      });
      return name;
    },
    async throughProxy(t, options = {}) {
      const dir = await mkdtemp(join(tmpdir(), "converge-proxy-"));
      let proxy: FaultProxy | undefined;
      let client: Client | undefined;
      // Registered first, so that a failure half-way (the proxy up, the client not) still cleans up.
      t.after(async () => {
        await client?.close();
        await proxy?.stop();
        await rm(dir, { recursive: true, force: true });
      });
      proxy = await FaultProxy.start({
        upstream: credentials,
        kubeconfigPath: join(dir, "kubeconfig"),
        ...(options.maxHoldMs ? { maxHoldMs: options.maxHoldMs } : {}),
      });
      client = await Client.connect({
        kubeconfig: proxy.kubeconfig,
        ...(options.fieldManager ? { fieldManager: options.fieldManager } : {}),
      });
      return { proxy, client };
    },
    async kubectl(args, input = "") {
      kubectlPath ??= ensureBinaries(["kubectl"]).then(({ kubectl }) => kubectl?.path ?? "kubectl");
      const path = await kubectlPath;
      return new Promise<KubectlResult>((resolve) => {
        const child = execFile(path, ["--kubeconfig", kubeconfig, ...args], (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
        );
        child.stdin?.end(input);
      });
    },
    async stop() {
      if (plane) await plane.stop();
      else http.close();
    },
  };
}

/** A valid, unique namespace name derived from a test name (DNS label: at most 63 characters). */
export function namespaceName(testName: string): string {
  const slug = testName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 50)
    .replace(/-+$/g, "");
  return `${slug || "test"}-${randomBytes(4).toString("hex")}`;
}

/**
 * Polls `check` until it returns something other than undefined or false, and resolves with that. Errors thrown
 * by `check` count as "not yet"; on timeout the error names `what` and the last error seen.
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let delay = 20; ; delay = Math.min(delay * 1.5, 250)) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
