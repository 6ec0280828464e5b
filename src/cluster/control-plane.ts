import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  type BinaryName,
  type BinaryOptions,
  ensureBinaries,
  findKwokAssets,
  type ResolvedBinaries,
} from "./binaries.ts";
import { createPlanePki } from "./certs.ts";
import { type ClusterCredentials, PlaneHttp, probe } from "./http.ts";
import { kubeconfigYaml } from "./kubeconfig.ts";
import { assertPortFree, freePorts } from "./ports.ts";
import { ComponentProcess, pidRuns } from "./process.ts";
import { extraStages } from "./stages.ts";
import {
  type ComponentState,
  credentialsFromKubeconfig,
  type PlaneState,
  readPlaneState,
  writePlaneState,
} from "./state.ts";

export type PlaneMode = "full" | "minimal";

export interface ControlPlaneOptions {
  /** A name for messages and the kubeconfig context (default `local`). */
  name?: string;
  /**
   * `full` (default): etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with fake nodes, so
   * Deployments get ReplicaSets and Ready pods and garbage collection works. `minimal`: etcd and kube-apiserver
   * only (the envtest shape), faster to start.
   */
  mode?: PlaneMode;
  /** Data directory (certificates, etcd data, logs, kubeconfig). Default: a new temporary directory. */
  dir?: string;
  /** kube-apiserver's secure port on 127.0.0.1 (default: a free port). */
  apiserverPort?: number;
  /** Number of fake kwok nodes in full mode (default 1). */
  nodes?: number;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`. */
  apiserverArgs?: readonly string[];
  /** How binaries are found or built (see ensureBinaries). */
  binaries?: BinaryOptions;
  /** Finds or builds the binaries (default ensureBinaries): e.g. to take them from elsewhere. */
  resolveBinaries?: (names: BinaryName[], options: BinaryOptions) => Promise<ResolvedBinaries>;
  /** Progress lines; default: none. */
  log?: (line: string) => void;
  /**
   * How long the components may take to become ready once the binaries are at hand (default 90 s); finding or
   * building the binaries is not counted.
   */
  readyTimeoutMs?: number;
}

export interface ComponentStatus {
  name: string;
  pid: number | undefined;
  ports: Record<string, number>;
  running: boolean;
  /** The health endpoint's answer: `ok`, `unhealthy (HTTP n)`, `no answer`, or `stopped`. */
  health: string;
  logFile: string;
}

const fakeNodeAnnotation = "kwok.x-k8s.io/node";
const serviceRange = "10.0.0.0/24";

/**
 * A real Kubernetes control plane on 127.0.0.1, owned by this process: its components are killed when this
 * process dies, however it dies (see process.ts). `converge cluster up` runs one inside a detached supervisor
 * so that it outlives the command.
 */
export class ControlPlane {
  readonly name: string;
  readonly mode: PlaneMode;
  readonly dir: string;
  readonly kubeconfigPath: string;
  readonly credentials: ClusterCredentials;
  /** A small HTTPS client authenticated as the plane's admin (system:masters). */
  readonly http: PlaneHttp;
  private readonly components: Array<{ proc: ComponentProcess; state: ComponentState; args: string[] }>;
  private readonly ownsDir: boolean;
  private stopped = false;

  private constructor(init: {
    name: string;
    mode: PlaneMode;
    dir: string;
    ownsDir: boolean;
    credentials: ClusterCredentials;
    components: Array<{ proc: ComponentProcess; state: ComponentState; args: string[] }>;
  }) {
    this.name = init.name;
    this.mode = init.mode;
    this.dir = init.dir;
    this.ownsDir = init.ownsDir;
    this.kubeconfigPath = join(init.dir, "kubeconfig");
    this.credentials = init.credentials;
    this.http = new PlaneHttp(init.credentials);
    this.components = init.components;
  }

  /** The apiserver URL, `https://127.0.0.1:<port>`. */
  get server(): string {
    return this.credentials.server;
  }

  /**
   * Starts a plane and resolves once it is ready (apiserver `/readyz`, and in full mode a Ready fake node). When a
   * component fails to start, the data directory is kept for its logs and the error says where; the next start of
   * a plane of the same name removes such directories.
   */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const name = options.name ?? "local";
    const mode = options.mode ?? "full";
    const log = options.log ?? (() => {});
    const ownsDir = options.dir === undefined;
    if (ownsDir) await removeFailedStarts(name, log);
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), tempPrefix(name))));
    await prepareDir(dir);

    const names: BinaryName[] =
      mode === "full"
        ? ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
        : ["etcd", "kube-apiserver"];
    let bins: ResolvedBinaries;
    try {
      if (options.apiserverPort !== undefined) await assertPortFree(options.apiserverPort, "kube-apiserver");
      bins = await (options.resolveBinaries ?? ensureBinaries)(names, { log, ...options.binaries });
    } catch (err) {
      // Nothing ran yet: there are no logs worth keeping.
      if (ownsDir) await rm(dir, { recursive: true, force: true });
      throw err;
    }
    // The readiness deadline starts now: a first run may spend many minutes building the binaries.
    const started = Date.now();
    const deadline = started + (options.readyTimeoutMs ?? 90_000);

    const [etcdClient, etcdPeer, etcdMetrics, kcmPort, schedPort, kwokPort, freeApiPort] = await freePorts(7);
    const apiPort = options.apiserverPort ?? (freeApiPort as number);
    const server = `https://127.0.0.1:${apiPort}`;

    const pki = await createPlanePki();
    const files = {
      caCert: join(dir, "pki", "ca.crt"),
      caKey: join(dir, "pki", "ca.key"),
      clientCaCert: join(dir, "pki", "client-ca.crt"),
      clientCaKey: join(dir, "pki", "client-ca.key"),
      apiCert: join(dir, "pki", "apiserver.crt"),
      apiKey: join(dir, "pki", "apiserver.key"),
      saKey: join(dir, "pki", "service-account.key"),
      saPub: join(dir, "pki", "service-account.pub"),
      kubeconfig: join(dir, "kubeconfig"),
      schedulerConfig: join(dir, "scheduler.yaml"),
      extraStages: join(dir, "kwok-stages.yaml"),
    };
    await mkdir(join(dir, "pki"), { recursive: true, mode: 0o700 });
    await mkdir(join(dir, "logs"), { recursive: true });
    await Promise.all([
      writeFile(files.caCert, pki.ca.cert),
      writeFile(files.caKey, pki.ca.key, { mode: 0o600 }),
      writeFile(files.clientCaCert, pki.clientCa.cert),
      writeFile(files.clientCaKey, pki.clientCa.key, { mode: 0o600 }),
      writeFile(files.apiCert, pki.apiserver.cert),
      writeFile(files.apiKey, pki.apiserver.key, { mode: 0o600 }),
      writeFile(files.saKey, pki.serviceAccount.privateKey, { mode: 0o600 }),
      writeFile(files.saPub, pki.serviceAccount.publicKey),
    ]);
    const credentials = {
      server,
      caCert: pki.ca.cert,
      clientCert: pki.admin.cert,
      clientKey: pki.admin.key,
    };
    await writeFile(files.kubeconfig, kubeconfigYaml(name, credentials), { mode: 0o600 });

    const components: Array<{ proc: ComponentProcess; state: ComponentState; args: string[] }> = [];
    const plane = new ControlPlane({ name, mode, dir, ownsDir, credentials, components });
    const launch = (state: Omit<ComponentState, "pid" | "logFile">, args: string[]): ComponentProcess => {
      const logFile = join(dir, "logs", `${state.name}.log`);
      const proc = new ComponentProcess({ name: state.name, binary: state.binary, args, logFile });
      components.push({ proc, state: { ...state, pid: proc.pid ?? -1, logFile }, args });
      return proc;
    };

    try {
      const etcdUrl = `http://127.0.0.1:${etcdClient}`;
      const etcd = launch(
        {
          name: "etcd",
          binary: path(bins, "etcd"),
          ports: { client: etcdClient as number, peer: etcdPeer as number },
          health: `http://127.0.0.1:${etcdMetrics}/health`,
        },
        [
          "--name=default",
          `--data-dir=${join(dir, "etcd")}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
          // Without an explicit metrics URL etcd opens one more port of its own choosing.
          `--listen-metrics-urls=http://127.0.0.1:${etcdMetrics}`,
          // A throwaway plane needs no durability; fsync dominates etcd latency on small disks.
          "--unsafe-no-fsync",
          "--log-level=warn",
        ],
      );
      await waitFor(
        "etcd to be healthy",
        deadline,
        [etcd],
        async () => (await probe(`http://127.0.0.1:${etcdMetrics}/health`)) === 200,
        log,
      );

      const apiserver = launch(
        {
          name: "kube-apiserver",
          binary: path(bins, "kube-apiserver"),
          ports: { secure: apiPort },
          health: `${server}/readyz`,
        },
        [
          `--etcd-servers=${etcdUrl}`,
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          // The default reconciler refuses a loopback advertise address for the `kubernetes` Endpoints.
          "--endpoint-reconciler-type=none",
          `--secure-port=${apiPort}`,
          `--cert-dir=${join(dir, "pki")}`,
          `--tls-cert-file=${files.apiCert}`,
          `--tls-private-key-file=${files.apiKey}`,
          `--client-ca-file=${files.clientCaCert}`,
          `--service-account-issuer=${server}/`,
          `--service-account-key-file=${files.saPub}`,
          `--service-account-signing-key-file=${files.saKey}`,
          `--service-cluster-ip-range=${serviceRange}`,
          "--allow-privileged=true",
          "--authorization-mode=Node,RBAC",
          "--profiling=false",
          // Minimal mode has no controller-manager to create the `default` ServiceAccount pods would need.
          ...(mode === "minimal" ? ["--disable-admission-plugins=ServiceAccount"] : []),
          ...(options.apiserverArgs ?? []),
        ],
      );
      await waitFor(
        "kube-apiserver to be ready (/readyz)",
        deadline,
        [etcd, apiserver],
        async () => {
          try {
            return (await plane.http.request("GET", "/readyz", undefined, { timeoutMs: 2_000 })).status === 200;
          } catch {
            return false;
          }
        },
        log,
      );

      if (mode === "full") {
        await writeFile(
          files.schedulerConfig,
          [
            "apiVersion: kubescheduler.config.k8s.io/v1",
            "kind: KubeSchedulerConfiguration",
            "clientConnection:",
            `  kubeconfig: ${JSON.stringify(files.kubeconfig)}`,
            "leaderElection:",
            "  leaderElect: false",
            "",
          ].join("\n"),
        );
        const kwokAssets = await findKwokAssets(options.binaries?.env);
        if (!kwokAssets)
          throw new Error("kwok stage files are missing from the cache; run `converge cluster binaries`");
        await writeFile(files.extraStages, extraStages);
        launch(
          {
            name: "kube-controller-manager",
            binary: path(bins, "kube-controller-manager"),
            ports: { secure: kcmPort as number },
            health: `https://127.0.0.1:${kcmPort}/healthz`,
          },
          [
            `--kubeconfig=${files.kubeconfig}`,
            `--authentication-kubeconfig=${files.kubeconfig}`,
            `--authorization-kubeconfig=${files.kubeconfig}`,
            "--leader-elect=false",
            "--controllers=*",
            "--bind-address=127.0.0.1",
            `--secure-port=${kcmPort}`,
            `--cert-dir=${join(dir, "pki", "kcm")}`,
            `--service-account-private-key-file=${files.saKey}`,
            `--root-ca-file=${files.caCert}`,
            // Approved CSRs become client certificates the apiserver accepts.
            `--cluster-signing-cert-file=${files.clientCaCert}`,
            `--cluster-signing-key-file=${files.clientCaKey}`,
            // Per-controller service-account credentials cost ~5 s of token requests at start-up and add nothing
            // to a single-user local plane.
            "--use-service-account-credentials=false",
            `--service-cluster-ip-range=${serviceRange}`,
          ],
        );
        launch(
          {
            name: "kube-scheduler",
            binary: path(bins, "kube-scheduler"),
            ports: { secure: schedPort as number },
            health: `https://127.0.0.1:${schedPort}/healthz`,
          },
          [
            `--config=${files.schedulerConfig}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${schedPort}`,
            `--cert-dir=${join(dir, "pki", "scheduler")}`,
            `--authentication-kubeconfig=${files.kubeconfig}`,
            `--authorization-kubeconfig=${files.kubeconfig}`,
          ],
        );
        launch(
          {
            name: "kwok",
            binary: path(bins, "kwok"),
            ports: { server: kwokPort as number },
            health: `http://127.0.0.1:${kwokPort}/healthz`,
          },
          [
            `--kubeconfig=${files.kubeconfig}`,
            `--config=${kwokAssets.stages}`,
            `--config=${files.extraStages}`,
            "--manage-all-nodes=false",
            `--manage-nodes-with-annotation-selector=${fakeNodeAnnotation}=fake`,
            // Fake nodes and pods get addresses that nothing ever connects to; the node IP stays on loopback.
            "--node-ip=127.0.0.1",
            "--cidr=10.244.0.0/16",
            "--node-lease-duration-seconds=40",
            `--server-address=127.0.0.1:${kwokPort}`,
          ],
        );
        const all = components.map((c) => c.proc);
        const nodes = options.nodes ?? 1;
        await Promise.all([registerNodes(plane.http, nodes), installStorageClass(plane.http, kwokAssets.storageClass)]);
        // Independent conditions, awaited together: the slowest one sets the start-up time.
        await Promise.all([
          waitFor("the fake node to become Ready", deadline, all, () => nodesReady(plane.http, nodes), log),
          // Pods need their namespace's `default` ServiceAccount, which the controller-manager creates.
          waitFor(
            "the default ServiceAccount",
            deadline,
            all,
            async () =>
              (await plane.http.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
            log,
          ),
          waitFor(
            "kube-controller-manager and kube-scheduler to be healthy",
            deadline,
            all,
            async () => {
              const codes = await Promise.all([
                probe(`https://127.0.0.1:${kcmPort}/healthz`),
                probe(`https://127.0.0.1:${schedPort}/healthz`),
              ]);
              return codes.every((c) => c === 200);
            },
            log,
          ),
        ]);
      }
      await writePlaneState(dir, plane.state());
      log(`control plane "${name}" (${mode}) ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      return plane;
    } catch (err) {
      await plane.stop({ keepDir: true });
      await writePlaneState(dir, plane.state()).catch(() => {});
      await writeFile(join(dir, failedMarker), `${(err as Error).message}\n`).catch(() => {});
      const cleanup = ownsDir
        ? `the next start of a "${name}" plane removes it`
        : "`converge cluster down` or the next start removes it";
      (err as Error).message += `\nthe data directory is kept for its logs: ${dir} (${cleanup})`;
      throw err;
    }
  }

  /** What `converge cluster status` and `down` need to find this plane again from another process. */
  state(): PlaneState {
    return {
      name: this.name,
      mode: this.mode,
      dir: this.dir,
      server: this.server,
      kubeconfig: this.kubeconfigPath,
      supervisorPid: undefined,
      components: this.components.map((c) => c.state),
    };
  }

  /** Each component's pid, ports and health. */
  async status(): Promise<ComponentStatus[]> {
    return componentStatuses(this.state());
  }

  /**
   * Stops one component and starts it again with the same flags and ports, for tests of what survives an outage
   * (a watch cut by an apiserver restart, a kwok restart). Resolves once it answers its health endpoint again.
   * `kill` stops it with SIGKILL (a crash: nothing flushed, no connection closed politely) instead of SIGTERM.
   * `onStopped` runs once the old process has exited, before the new one starts.
   */
  async restart(
    name: string,
    options: { downMs?: number; timeoutMs?: number; kill?: boolean; onStopped?: () => void } = {},
  ): Promise<void> {
    const entry = this.components.find((c) => c.state.name === name);
    if (!entry) throw new Error(`no component "${name}" in this plane`);
    await entry.proc.stop(5_000, options.kill ? "SIGKILL" : "SIGTERM");
    options.onStopped?.();
    if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
    const proc = new ComponentProcess({
      name,
      binary: entry.state.binary,
      args: entry.args,
      logFile: entry.state.logFile,
    });
    entry.proc = proc;
    entry.state = { ...entry.state, pid: proc.pid ?? -1 };
    await writePlaneState(this.dir, this.state());
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    await waitFor(`${name} to be healthy again`, deadline, [proc], async () => {
      if (name === "kube-apiserver") {
        return (
          (await this.http.request("GET", "/readyz", undefined, { timeoutMs: 2_000 }).catch(() => ({ status: 0 })))
            .status === 200
        );
      }
      return (await probe(entry.state.health)) === 200;
    });
  }

  /** Stops every component (reverse start order) and removes the data directory unless `keepDir`. */
  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.http.close();
    for (const { proc } of [...this.components].reverse()) await proc.stop();
    const keep = options.keepDir ?? !this.ownsDir;
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Marks a data directory whose plane failed to start; it is kept only for its logs. */
const failedMarker = "start-failed";

const tempPrefix = (name: string) => `converge-${name}-`;

/**
 * Removes the temporary data directories that earlier failed starts of a plane of this name kept for their logs,
 * once none of their processes runs.
 */
async function removeFailedStarts(name: string, log: (line: string) => void): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.startsWith(tempPrefix(name)))) {
    const dir = join(tmpdir(), entry);
    if (!existsSync(join(dir, failedMarker))) continue;
    const state = await readPlaneState(dir).catch(() => undefined);
    if (state?.components.some((c) => pidRuns(c.pid, c.binary))) continue;
    await rm(dir, { recursive: true, force: true });
    log(`removed ${dir}, kept by an earlier failed start`);
  }
}

function path(bins: ResolvedBinaries, name: BinaryName): string {
  const b = bins[name];
  if (!b) throw new Error(`internal error: binary ${name} was not resolved`);
  return b.path;
}

/**
 * A data directory may be reused only when no plane runs from it. A stale one (its processes are gone) is
 * cleared so that old etcd data and certificates never mix with new ones.
 */
async function prepareDir(dir: string): Promise<void> {
  const previous = await readPlaneState(dir);
  if (previous) {
    const alive = previous.components.filter((c) => pidRuns(c.pid, c.binary));
    if (alive.length > 0) {
      throw new Error(
        `a control plane is already running from ${dir} (${alive.map((c) => `${c.name} pid ${c.pid}`).join(", ")}); ` +
          "stop it first (`converge cluster down`)",
      );
    }
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/**
 * Polls `check` until it is true. Fails early, with the last lines of the component's log, when any of
 * `watch` exits — a binary that dies at start-up should not cost the whole timeout.
 */
async function waitFor(
  what: string,
  deadline: number,
  watch: readonly ComponentProcess[],
  check: () => Promise<boolean>,
  log?: (line: string) => void,
): Promise<void> {
  const started = Date.now();
  for (let delay = 50; ; delay = Math.min(delay * 1.5, 500)) {
    const dead = watch.find((p) => !p.running);
    if (dead) throw new Error(`${await dead.describeExit()}\n(while waiting for ${what})`);
    if (await check()) {
      log?.(`  waited ${((Date.now() - started) / 1000).toFixed(1)}s for ${what}`);
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; logs are in ${watch[0]?.logFile ?? "the data directory"} and beside it`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function registerNodes(http: PlaneHttp, count: number): Promise<void> {
  const resources = { cpu: "32", memory: "256Gi", pods: "1000" };
  for (let i = 0; i < count; i++) {
    const name = `converge-node-${i}`;
    await http.expectOk("POST", "/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        annotations: { [fakeNodeAnnotation]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
        labels: {
          "kubernetes.io/hostname": name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
          "node.kubernetes.io/instance-type": "kwok",
          type: "kwok",
        },
      },
      spec: {},
      status: { capacity: resources, allocatable: resources },
    });
  }
}

async function nodesReady(http: PlaneHttp, count: number): Promise<boolean> {
  const res = await http.request<{
    items?: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }>;
  }>("GET", "/api/v1/nodes");
  const ready = (res.body.items ?? []).filter((n) =>
    (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
  );
  return ready.length >= count;
}

async function installStorageClass(http: PlaneHttp, file: string): Promise<void> {
  for (const doc of parseAllDocuments(await readFile(file, "utf8"))) {
    const obj = doc.toJS() as object | null;
    if (obj) await http.expectOk("POST", "/apis/storage.k8s.io/v1/storageclasses", obj);
  }
}

/** Status of each component of a plane described by its state file (also from another process). */
export async function componentStatuses(state: PlaneState): Promise<ComponentStatus[]> {
  const creds = await credentialsFromKubeconfig(state.kubeconfig);
  const http = creds ? new PlaneHttp(creds) : undefined;
  try {
    return await Promise.all(
      state.components.map(async (c) => {
        const running = pidRuns(c.pid, c.binary);
        let health = "stopped";
        if (running) {
          let code = 0;
          if (c.name === "kube-apiserver" && http) {
            code = await http.request("GET", "/readyz", undefined, { timeoutMs: 2_000 }).then(
              (r) => r.status,
              () => 0,
            );
          } else {
            code = await probe(c.health);
          }
          health = code === 200 ? "ok" : code === 0 ? "no answer" : `unhealthy (HTTP ${code})`;
        }
        return { name: c.name, pid: c.pid, ports: c.ports, running, health, logFile: c.logFile };
      }),
    );
  } finally {
    http?.close();
  }
}
