import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { hostname } from "node:os";
import { Cache, type CacheOptions } from "../cache/cache.ts";
import { ClientBase, type KubeClient, type ObjectKey } from "../client/api.ts";
import { Client } from "../client/client.ts";
import type { LoadOptions } from "../client/config.ts";
import { NotLeaderError, type WriteFence, type WriteKind } from "../client/fence.ts";
import { Transport, type TransportOptions } from "../client/transport.ts";
import type { ControllerDefinition } from "../controller/builder.ts";
import { Controller } from "../controller/controller.ts";
import { EventRecorder } from "../controller/events.ts";
import { createLogger, type Logger, type LoggerOptions } from "../controller/logger.ts";
import type { QueueObserver, ReconcileResultLabel } from "../queue/observer.ts";
import type { AdmissionWebhook } from "../webhook/admission.ts";
import type { Conversion } from "../webhook/conversion.ts";
import { WebhookServer, type WebhookServerOptions } from "../webhook/server.ts";
import { type LeaderClock, LeaderElector } from "./leader.ts";
import { OperatorMetrics } from "./metrics.ts";

/**
 * `node:http` taken from the loaded builtins rather than imported: an ES import of `node:http` evaluates every one of
 * its exports, and its lazy WebSocket, CloseEvent and MessageEvent getters load Node's internal undici with http2,
 * zlib and web streams, some 14 MB of RSS that an operator serving probes and metrics never uses.
 */
const { createServer } = process.getBuiltinModule("node:http");

export interface ManagerOptions {
  /** The operator's name: field manager of its writes, reporting controller of its events, default lease name. */
  name: string;
  /** A client to use (default: one from `kubeconfig`/`KUBECONFIG`/in-cluster, with `name` as field manager). */
  client?: KubeClient;
  /** Where and how to connect: kubeconfig, context, and the transport's timeouts and rate limit. */
  connection?: LoadOptions & Omit<TransportOptions, "observer" | "userAgent">;
  /** Watch one namespace only (default: all). */
  namespace?: string;
  /** Lease-based leader election (default: off). */
  leaderElection?: {
    /** Namespace of the Lease (default: the pod's namespace in a cluster, else `default`). */
    namespace?: string;
    /** Lease name (default `<name>-leader`). */
    leaseName?: string;
    identity?: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
    /**
     * The client for the Lease requests. Default: for a `Client`, one of its own on the same credentials with a
     * connection of its own, so that renewals never queue behind reconcile traffic; otherwise the manager's.
     */
    client?: KubeClient;
    /** The clocks elapsed time and Lease times are read from (for tests; default: performance.now, Date). */
    clock?: LeaderClock;
  };
  /**
   * What a leader does when it loses its Lease, after it has aborted its reconciles and stopped: `exit` the
   * process with code 1 (default, so that the pod restarts as a standby), or `stop` and let `start()` reject with
   * LeadershipLostError.
   */
  onLeadershipLost?: "exit" | "stop";
  /** `host:port` for `/metrics` (e.g. `127.0.0.1:8080`, `:8080` in a pod, port 0 for any free port). Off when unset. */
  metricsAddress?: string;
  /** `host:port` for `/healthz` and `/readyz`. Off when unset. */
  probeAddress?: string;
  /**
   * The webhook server (admission webhooks and conversions): started on every replica, leader or not, once a
   * webhook or conversion is added. `onServing` runs once it listens (e.g. to point the apiserver at it).
   */
  webhook?: Omit<WebhookServerOptions, "registry"> & { onServing?: (server: WebhookServer) => Promise<void> };
  /** How long shutdown waits for running reconciles (default 30 s). */
  shutdownTimeoutMs?: number;
  /**
   * How long to wait for the caches to fill before failing (default 120 s). A kind the apiserver does not serve
   * (its CRD not installed yet) does not fail the manager: the controllers that need it wait for it, report
   * themselves on `/readyz` and in `converge_controller_waiting_kinds`, and start once it is served.
   */
  cacheSyncTimeoutMs?: number;
  /**
   * `/healthz` fails while an informer has been unable to list or watch for longer than this (default 180 s), with
   * a line naming its kind and last error: a process cut off from the apiserver for that long is better restarted.
   * A kind that is not served (a CRD not installed) does not count.
   */
  cacheFailureThresholdMs?: number;
  cache?: Omit<CacheOptions, "log">;
  log?: Logger | LoggerOptions;
}

/** One finished reconcile, as `Manager.onReconcile` reports it. */
export interface ReconcileEvent {
  controller: string;
  /** `namespace/name` or `name`. */
  key: string;
  result: ReconcileResultLabel;
  seconds: number;
}

/** The manager lost its lease; it has stopped reconciling. Exit, and let the replica restart as a standby. */
export class LeadershipLostError extends Error {}

/** A probe check: passes when it returns true; fails when it returns false or throws (the message is shown). */
type Check = () => boolean | Promise<boolean>;

/**
 * Runs controllers: one client and shared cache for all of them, optional leader election, metrics and probe
 * endpoints, and a graceful shutdown that finishes in-flight reconciles.
 */
export class Manager {
  readonly name: string;
  readonly client: KubeClient;
  readonly cache: Cache;
  readonly log: Logger;
  readonly events: EventRecorder;
  readonly metrics = new OperatorMetrics();
  private readonly options: ManagerOptions;
  private readonly ownsClient: boolean;
  private readonly controllers: Controller[] = [];
  private readonly healthChecks = new Map<string, Check>();
  private readonly reconcileListeners = new Set<(event: ReconcileEvent) => void>();
  private readonly readyChecks = new Map<string, Check>();
  private readonly servers: Server[] = [];
  private elector: LeaderElector | undefined;
  private leaseClient: KubeClient | undefined;
  private lostLeadership: string | undefined;
  private state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  private finished: Promise<void> | undefined;
  private finish: ((err?: Error) => void) | undefined;
  private leadingWaiters: Array<() => void> = [];
  private controllersStarted = false;
  /** Bound addresses (useful with port 0). */
  readonly addresses: { metrics?: string; probes?: string } = {};
  /** The webhook server, when `webhook` options were given. */
  readonly webhookServer: WebhookServer | undefined;

  private constructor(options: ManagerOptions, client: KubeClient, ownsClient: boolean) {
    this.name = options.name;
    this.options = options;
    this.client = client;
    this.ownsClient = ownsClient;
    if (client instanceof Client) client.transport.observe(this.metrics.transportObserver());
    this.log =
      options.log && "child" in options.log
        ? options.log
        : createLogger({ base: { operator: options.name }, ...(options.log as LoggerOptions) });
    const informerLog = this.log.child({ component: "informer" });
    this.cache = new Cache(client, {
      ...options.cache,
      log: (level, msg, fields) => informerLog[level](fields ?? {}, msg),
    });
    this.events = new EventRecorder(client, {
      controller: options.name,
      instance: options.leaderElection?.identity ?? hostname(),
      log: this.log,
    });
    this.readyChecks.set("informers", () => {
      const behind = this.cache
        .informers()
        .filter((i) => !i.hasSynced && !i.isUnserved)
        .map((i) => `${i.describe()}${i.lastFailure ? `: ${i.lastFailure}` : ""}`);
      if (behind.length) throw new Error(`not synced: ${behind.join("; ")}`);
      return true;
    });
    this.healthChecks.set("informers", () => {
      const threshold = options.cacheFailureThresholdMs ?? 180_000;
      const now = Date.now();
      const failing = this.cache
        .informers()
        .filter((i) => i.failingSince !== undefined && now - i.failingSince > threshold)
        .map(
          (i) =>
            `${i.describe()} failing for ${Math.round((now - (i.failingSince ?? now)) / 1000)} s: ${i.lastFailure}`,
        );
      if (failing.length) throw new Error(`cannot list/watch: ${failing.join("; ")}`);
      return true;
    });
    if (options.webhook) {
      const { onServing: _, ...serverOptions } = options.webhook;
      const webhookLog = this.log.child({ component: "webhook" });
      this.webhookServer = new WebhookServer({
        onError: (err, path) => webhookLog.error({ err, path }, "webhook request failed"),
        ...serverOptions,
        registry: this.metrics.registry,
      });
    }
  }

  static async create(options: ManagerOptions): Promise<Manager> {
    if (options.client) return new Manager(options, options.client, false);
    const client = await Client.connect({
      ...options.connection,
      fieldManager: options.name,
      userAgent: `${options.name} (converge)`,
    });
    return new Manager(options, client, true);
  }

  /**
   * Runs a controller in this manager: its queue and informers are made at once, and it starts reconciling when the
   * manager runs (and leads). A definition may be added to several managers; each runs it on its own.
   */
  add(definition: ControllerDefinition): this {
    if (this.state !== "new") throw new Error("add controllers before start()");
    const name = definition.name;
    if (this.controllers.some((c) => c.name === name)) throw new Error(`a controller named ${name} was already added`);
    const c = new Controller(definition, {
      client: this.client,
      cache: this.cache,
      log: this.log.child({ controller: name }),
      events: this.events,
      ...(this.options.namespace ? { namespace: this.options.namespace } : {}),
      ...(this.options.cacheSyncTimeoutMs ? { cacheSyncTimeoutMs: this.options.cacheSyncTimeoutMs } : {}),
      observer: this.observed(
        name,
        this.metrics.queueObserver(name, definition.options.maxConcurrentReconciles ?? 1, () => ({
          unfinished: () => c.workQueue.unfinishedWorkSeconds(),
          longest: () => c.workQueue.longestRunningProcessorSeconds(),
        })),
      ),
      onPanic: () => this.metrics.panicked(name),
      metrics: this.metrics.registry,
    });
    this.readyChecks.set(`controller/${name}`, () => {
      const waiting = c.waitingFor();
      if (waiting.length) throw new Error(`waiting for ${waiting.join(", ")} to be served`);
      return true;
    });
    this.metrics.waitingKinds(name, () => c.waitingFor().length);
    this.controllers.push(c);
    return this;
  }

  /** Adds a key to a controller's queue by hand (e.g. from a webhook or a timer). */
  enqueue(controller: string, key: string | ObjectKey, opts: { afterMs?: number } = {}): void {
    const c = this.controllers.find((x) => x.name === controller);
    if (!c) throw new Error(`no controller named ${controller} in manager ${this.name}`);
    c.enqueue(key, opts);
  }

  /** Serves an admission webhook (needs the `webhook` option). */
  addWebhook(webhook: AdmissionWebhook): this {
    this.requireWebhookServer().addWebhook(webhook);
    return this;
  }

  /** Serves the conversion of a custom resource between its versions (needs the `webhook` option). */
  addConversion(conversion: Conversion): this {
    this.requireWebhookServer().addConversion(conversion);
    return this;
  }

  private requireWebhookServer(): WebhookServer {
    if (!this.webhookServer) throw new Error(`manager ${this.name}: webhooks need the "webhook" option`);
    if (this.state !== "new") throw new Error("add webhooks before start()");
    return this.webhookServer;
  }

  /**
   * Calls `listener` after every reconcile of every controller, with its result (controller-runtime's result
   * labels): for dashboards and demos. Returns a function that removes the listener.
   */
  onReconcile(listener: (event: ReconcileEvent) => void): () => void {
    this.reconcileListeners.add(listener);
    return () => this.reconcileListeners.delete(listener);
  }

  private observed(controller: string, observer: QueueObserver): QueueObserver {
    return {
      ...observer,
      finished: (key, result, seconds, detail) => {
        observer.finished?.(key, result, seconds, detail);
        for (const l of this.reconcileListeners) l({ controller, key, result, seconds });
      },
    };
  }

  addHealthCheck(name: string, check: Check): this {
    this.healthChecks.set(name, check);
    return this;
  }

  addReadyCheck(name: string, check: Check): this {
    this.readyChecks.set(name, check);
    return this;
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.controllersStarted;
  }

  /** Resolves once this manager's controllers run (at once without leader election). */
  whenLeading(): Promise<void> {
    if (this.controllersStarted) return Promise.resolve();
    return new Promise((resolve) => this.leadingWaiters.push(resolve));
  }

  /**
   * Runs until stop() (or SIGTERM/SIGINT with `handleSignals`), then resolves; rejects when the caches do not
   * sync in time or leadership is lost.
   */
  start(options: { handleSignals?: boolean } = {}): Promise<void> {
    if (this.state !== "new") throw new Error("a manager starts once");
    this.state = "starting";
    this.finished = new Promise<void>((resolve, reject) => {
      this.finish = (err) => (err ? reject(err) : resolve());
    });
    if (options.handleSignals) {
      const onSignal = (signal: string) => {
        this.log.info({ signal }, "shutting down");
        void this.stop();
      };
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
    }
    void this.run().catch(async (err: Error) => {
      await this.shutdown();
      this.finish?.(err);
    });
    return this.finished;
  }

  private async run(): Promise<void> {
    await this.startServers();
    this.cache.start();
    // Standby replicas fill their caches too, so that a takeover starts reconciling at once.
    await this.cache.waitForSyncOrUnserved(this.options.cacheSyncTimeoutMs ?? 120_000);
    if (this.state !== "starting") return;
    this.state = "running";
    const le = this.options.leaderElection;
    if (!le) {
      this.startControllers();
      return;
    }
    const leaseName = le.leaseName ?? `${this.name}-leader`;
    const leaseNamespace = le.namespace ?? podNamespace() ?? "default";
    this.leaseClient = le.client ?? this.ownLeaseClient();
    this.elector = new LeaderElector(this.leaseClient ?? this.client, {
      name: leaseName,
      namespace: leaseNamespace,
      identity: le.identity ?? `${hostname()}_${Math.random().toString(36).slice(2, 10)}`,
      ...(le.leaseDurationMs ? { leaseDurationMs: le.leaseDurationMs } : {}),
      ...(le.renewDeadlineMs ? { renewDeadlineMs: le.renewDeadlineMs } : {}),
      ...(le.retryPeriodMs ? { retryPeriodMs: le.retryPeriodMs } : {}),
      ...(le.clock ? { clock: le.clock } : {}),
      onStartedLeading: () => {
        this.metrics.leaderStatus.set({ name: this.name }, 1);
        if (this.client instanceof ClientBase && this.elector) {
          this.client.setWriteFence(leaderFence(this.elector, { namespace: leaseNamespace, name: leaseName }));
        }
        this.startControllers();
      },
      onStoppedLeading: (reason) => this.onLeadershipLost(reason),
      log: (level, msg, fields) => this.log[level](fields ?? {}, msg),
    });
    this.metrics.leaderStatus.set({ name: this.name }, 0);
    this.elector.start();
  }

  /**
   * A client of its own for the Lease: same credentials, its own connection, so that a pool wedged by hung
   * reconcile requests cannot hold a renewal back. Only for a `Client`; it is closed with the manager.
   */
  private ownLeaseClient(): KubeClient | undefined {
    if (!(this.client instanceof Client)) return undefined;
    const transport = new Transport(this.client.transport.config, {
      connections: 1,
      // The elector retries every retryPeriod until its renew deadline: a throttled renewal waiting out Retry-After
      // (a second or more) would only leave it fewer tries.
      throttledRetries: 0,
      userAgent: `${this.name} (converge; leader election)`,
    });
    transport.observe(this.metrics.transportObserver());
    return new Client(transport, this.client.fieldManager ? { fieldManager: this.client.fieldManager } : {});
  }

  /**
   * Leadership lost: the elector has already closed the fence (every write is refused, fenced writes in flight are
   * aborted). Abort every running reconcile at once, stop, then exit (or reject start()).
   */
  private onLeadershipLost(reason: string): void {
    this.metrics.leaderStatus.set({ name: this.name }, 0);
    this.lostLeadership = reason;
    this.log.error({ reason }, "lost leadership: stopping at once");
    for (const c of this.controllers) void c.stop(0);
    void this.shutdown().then(() => {
      if ((this.options.onLeadershipLost ?? "exit") === "exit") {
        this.log.flush?.();
        process.exit(1);
      }
      this.finish?.(new LeadershipLostError(`${this.name} lost its lease: ${reason}`));
    });
  }

  private startControllers(): void {
    if (this.controllersStarted || this.state !== "running") return;
    this.controllersStarted = true;
    for (const c of this.controllers) c.start();
    this.log.info({ controllers: this.controllers.map((c) => c.name) }, "controllers started");
    for (const w of this.leadingWaiters.splice(0)) w();
  }

  /** Stops intake, waits for running reconciles (up to shutdownTimeoutMs), releases the lease, and closes. */
  async stop(): Promise<void> {
    if (this.state === "new") {
      this.state = "stopped";
      return;
    }
    await this.shutdown();
    this.finish?.();
  }

  private shuttingDown: Promise<void> | undefined;

  /**
   * Stops the controllers, then waits for the fenced writes still in flight (a reconcile abandoned at the timeout,
   * a write nobody awaited), all within shutdownTimeoutMs, and only then releases the Lease: no write of this
   * replica can land after a standby took over. Writes still in flight at the timeout are aborted and the Lease is
   * left to expire instead. After a lost Lease, controllers are stopped at once and nothing waits.
   */
  private shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      this.state = "stopping";
      const timeoutMs = this.options.shutdownTimeoutMs ?? 30_000;
      const deadline = performance.now() + timeoutMs;
      const results = await Promise.all(this.controllers.map((c) => c.stop(this.lostLeadership ? 0 : timeoutMs)));
      const unfinished = results.flatMap((r) => r.unfinished);
      if (unfinished.length && !this.lostLeadership) {
        this.log.warn({ unfinished }, "shutdown timeout: reconciles still running were abandoned");
      }
      let settled = true;
      if (this.client instanceof ClientBase && !this.lostLeadership) {
        settled = await this.client.writesSettled(deadline - performance.now());
        if (!settled) {
          this.log.warn(
            { writes: this.client.writesInFlight },
            "shutdown timeout: writes still in flight; the lease is left to expire instead of being released",
          );
        }
      }
      await this.elector?.stop({ release: settled && !this.lostLeadership });
      await this.cache.stop();
      await this.events.flush();
      // Webhooks serve until the end: the apiserver may call them while the controllers drain.
      await this.webhookServer?.stop();
      await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      if (this.leaseClient && !this.options.leaderElection?.client) await this.leaseClient.close();
      if (this.ownsClient) await this.client.close();
      this.state = "stopped";
      this.log.info("stopped");
      this.log.flush?.();
    })();
    return this.shuttingDown;
  }

  private async startServers(): Promise<void> {
    const { metricsAddress, probeAddress } = this.options;
    const webhooks = this.webhookServer;
    if (webhooks && (webhooks.webhooks.length > 0 || webhooks.hasConversions)) {
      const port = await webhooks.start();
      this.log.info({ port }, "webhook server listening");
      this.readyChecks.set("webhook", () => webhooks.port > 0);
      await this.options.webhook?.onServing?.(webhooks);
    }
    if (metricsAddress) {
      this.addresses.metrics = await this.listen(metricsAddress, async (req, res) => {
        if (req.url !== "/metrics") return notFound(res);
        res.writeHead(200, { "content-type": this.metrics.registry.contentType });
        res.end(await this.metrics.registry.metrics());
      });
    }
    if (probeAddress) {
      this.addresses.probes = await this.listen(probeAddress, async (req, res) => {
        const checks =
          req.url === "/healthz" ? this.healthChecks : req.url === "/readyz" ? this.readyChecks : undefined;
        if (!checks) return notFound(res);
        const failed: string[] = [];
        const details: string[] = [];
        for (const [name, check] of checks) {
          const why = await Promise.resolve()
            .then(check)
            .then(
              (ok) => (ok ? undefined : "failed"),
              (err: unknown) => (err instanceof Error ? err.message : String(err)),
            );
          if (why === undefined) continue;
          failed.push(name);
          details.push(`[-]${name}: ${why}`);
        }
        res.writeHead(failed.length ? 500 : 200, { "content-type": "text/plain" });
        res.end(failed.length ? `failed: ${failed.join(", ")}\n${details.join("\n")}\n` : "ok\n");
      });
    }
  }

  private listen(
    address: string,
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  ): Promise<string> {
    const { host, port } = parseAddress(address);
    return new Promise((resolve, reject) => {
      const server = createServer((req, res) => {
        handler(req, res).catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
      });
      server.once("error", reject);
      server.listen({ port, ...(host ? { host } : {}) }, () => {
        const a = server.address();
        this.servers.push(server);
        resolve(
          typeof a === "object" && a ? `${a.address.includes(":") ? `[${a.address}]` : a.address}:${a.port}` : address,
        );
      });
    });
  }
}

/** `host:port` or `:port` (all interfaces), as the manager's address options take them. */
export function parseAddress(address: string): { host?: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = colon > 0 ? address.slice(0, colon) : undefined;
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid address "${address}": use host:port`);
  return { ...(host ? { host } : {}), port };
}

function notFound(res: ServerResponse): void {
  res.writeHead(404);
  res.end("not found\n");
}

function podNamespace(): string | undefined {
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * The write fence of a leading manager: writes pass while the elector's fence holds. Events (informational, and
 * what explains a step-down) and the manager's own Lease are not governed.
 */
function leaderFence(elector: LeaderElector, lease: ObjectKey): WriteFence {
  return {
    signal: elector.fenceSignal,
    admit(type: WriteKind, key: ObjectKey): boolean {
      if (type.kind === "Event" && (type.apiVersion === "v1" || type.apiVersion === "events.k8s.io/v1")) return false;
      if (
        type.kind === "Lease" &&
        type.apiVersion === "coordination.k8s.io/v1" &&
        key.namespace === lease.namespace &&
        key.name === lease.name
      ) {
        return false;
      }
      if (!elector.checkFence()) {
        throw elector.fenceSignal.aborted
          ? (elector.fenceSignal.reason as Error)
          : new NotLeaderError("not the leader: writes are refused");
      }
      return true;
    },
  };
}
