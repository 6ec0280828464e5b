/**
 * What a chaos scenario runs in: a namespace of the chaos plane, replicas of one peer's operator (each a process
 * with a fault proxy of its own between it and the apiserver, so that faults hit one replica and every request is
 * attributed to its writer), a direct admin client for the load, and the helpers every scenario needs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import type { Client } from "../src/client/index.ts";
import { isNotFound } from "../src/client/index.ts";
import type { ClusterCredentials } from "../src/cluster/http.ts";
import { FaultProxy } from "../src/testing/fault-proxy.ts";
import { coordinationv1, corev1 } from "../src/types/index.ts";
import { label, Task, taskName } from "./task.ts";

export type PeerName = "converge" | "controller-runtime";

/** How to start one peer's operator. */
export interface PeerLauncher {
  name: PeerName;
  command: string;
  args: string[];
}

export interface ReplicaOptions {
  mode?: "ledger" | "handlers" | "children";
  env?: Record<string, string>;
}

/** One replica: its process, its proxy, and (Converge) its debug endpoint. */
export class Replica {
  readonly identity: string;
  readonly proxy: FaultProxy;
  private child: ChildProcess | undefined;
  private exitedWith: string | undefined;
  private exitWaiters: Array<(how: string) => void> = [];
  debugPort: number | undefined;
  /** How often it exited (a kill, or leadership lost) and was started again. */
  restarts = 0;
  private stopped = false;
  private readonly start: () => ChildProcess;

  constructor(identity: string, proxy: FaultProxy, start: () => ChildProcess) {
    this.identity = identity;
    this.proxy = proxy;
    this.start = start;
  }

  launch(): void {
    this.exitedWith = undefined;
    const child = this.start();
    this.child = child;
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      for (const line of text.split("\n")) {
        const m = /^\{"debug":(\d+)\}/.exec(line.trim());
        if (m) this.debugPort = Number(m[1]);
      }
    });
    child.once("exit", (code, signal) => {
      const how = signal ?? `code ${code}`;
      this.exitedWith = how;
      for (const w of this.exitWaiters.splice(0)) w(how);
      // As a kubelet would: a replica that exited (killed, or stepping down after losing its lease) comes back.
      if (!this.stopped) {
        this.restarts++;
        setTimeout(() => {
          if (!this.stopped) this.launch();
        }, 1_000).unref();
      }
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.exitedWith === undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Resolves once the current process has exited. */
  exited(): Promise<string> {
    if (this.exitedWith !== undefined) return Promise.resolve(this.exitedWith);
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** SIGTERM, SIGKILL after 10 s; no restart afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.running) return;
    const gone = this.exited();
    this.child?.kill("SIGTERM");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  }

  /** Starts it again after stop(). */
  resume(): void {
    this.stopped = false;
    this.launch();
  }

  /** Steps the Converge replica's wall clock (as leader election reads it) by `ms`. */
  async stepClock(ms: number): Promise<void> {
    if (!this.debugPort || !this.running) throw new Error("the replica has no debug endpoint");
    const res = await fetch(`http://127.0.0.1:${this.debugPort}/clock?stepMs=${Math.round(ms)}`, {
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`stepping the clock: HTTP ${res.status}`);
  }

  /** The Converge replica's view: whether it leads, what its Task cache holds, its RSS. */
  async state(): Promise<{ leader: boolean; tasks: Array<[string, string]>; rssBytes: number } | undefined> {
    if (!this.debugPort || !this.running) return undefined;
    try {
      const res = await fetch(`http://127.0.0.1:${this.debugPort}/state`, { signal: AbortSignal.timeout(5_000) });
      return (await res.json()) as { leader: boolean; tasks: Array<[string, string]>; rssBytes: number };
    } catch {
      return undefined;
    }
  }
}

export interface WorldOptions {
  client: Client;
  credentials: ClusterCredentials;
  namespace: string;
  peer: PeerLauncher;
  dir: string;
  /** `<duration>/<renew deadline>/<retry period>` in ms. */
  lease: string;
  workers: number;
}

export class World {
  readonly client: Client;
  readonly namespace: string;
  readonly peer: PeerLauncher;
  readonly replicas: Replica[] = [];
  readonly leaseMs: { duration: number; renew: number; retry: number };
  private readonly options: WorldOptions;

  constructor(options: WorldOptions) {
    this.options = options;
    this.client = options.client;
    this.namespace = options.namespace;
    this.peer = options.peer;
    const [duration = 4000, renew = 3000, retry = 500] = options.lease.split("/").map(Number);
    this.leaseMs = { duration, renew, retry };
  }

  /** Starts `count` replicas, each behind its own proxy. */
  async startReplicas(count: number, options: ReplicaOptions = {}): Promise<Replica[]> {
    const started: Replica[] = [];
    for (let i = 0; i < count; i++) {
      const identity = `${this.peer.name}-${this.replicas.length}`;
      const proxy = await FaultProxy.start({
        upstream: this.options.credentials,
        kubeconfigPath: join(this.options.dir, `${this.namespace}-${identity}.kubeconfig`),
        maxHoldMs: 60_000,
      });
      const log = createWriteStream(join(this.options.dir, `${this.namespace}-${identity}.log`), { flags: "a" });
      const env = {
        ...process.env,
        ...options.env,
        KUBECONFIG: proxy.kubeconfig,
        CHAOS_NAMESPACE: this.namespace,
        CHAOS_IDENTITY: identity,
        CHAOS_WORKERS: String(this.options.workers),
        CHAOS_LEASE: this.options.lease,
        CHAOS_MODE: options.mode ?? "ledger",
      };
      const replica = new Replica(identity, proxy, () => {
        const child = spawn(this.peer.command, this.peer.args, { env, stdio: ["ignore", "pipe", "pipe"] });
        child.stderr?.pipe(log, { end: false });
        return child;
      });
      replica.launch();
      this.replicas.push(replica);
      started.push(replica);
    }
    return started;
  }

  /** The replica whose proxy carried the last successful write of the Lease: the one that leads now. */
  leader(): Replica | undefined {
    let best: { replica: Replica; at: number } | undefined;
    for (const r of this.replicas) {
      const last = r.proxy.requests.findLast(
        (q) =>
          q.resource === "leases" && (q.verb === "update" || q.verb === "create") && q.status < 300 && q.status >= 200,
      );
      if (last?.answeredAt && (!best || last.answeredAt > best.at)) best = { replica: r, at: last.answeredAt };
    }
    return best?.replica;
  }

  /** Waits until some replica leads (other than `not`, when given); returns it and when it took the lease. */
  async waitForLeader(options: { not?: Replica; timeoutMs?: number } = {}): Promise<{ replica: Replica; at: number }> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const l = this.leader();
      if (l && l !== options.not) {
        const first = l.proxy.requests.findLast(
          (q) => q.resource === "leases" && q.verb !== "get" && q.status >= 200 && q.status < 300,
        );
        return { replica: l, at: first?.answeredAt ?? Date.now() };
      }
      if (Date.now() > deadline) throw new Error("no leader within the timeout");
      await sleep(100);
    }
  }

  async createTasks(from: number, count: number, step = 1): Promise<void> {
    await pool(count, 32, (i) =>
      this.client.create(Task, { metadata: { name: taskName(from + i), namespace: this.namespace }, spec: { step } }),
    );
  }

  /** Moves `spec.step` of the given tasks on by one. */
  async bump(names: readonly string[]): Promise<void> {
    await pool(names.length, 32, async (i) => {
      const name = names[i] as string;
      const t = await this.client.get(Task, { namespace: this.namespace, name }).catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      if (!t) return;
      await this.client
        .patch(Task, { namespace: this.namespace, name }, "merge", { spec: { step: t.spec.step + 1 } })
        .catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
    });
  }

  async tasks(): Promise<Task[]> {
    return (await this.client.list(Task, { namespace: this.namespace })).items;
  }

  async effects(): Promise<corev1.ConfigMap[]> {
    return (await this.client.list(corev1.ConfigMap, { namespace: this.namespace, labelSelector: label.task })).items;
  }

  async children(): Promise<corev1.ConfigMap[]> {
    return (await this.client.list(corev1.ConfigMap, { namespace: this.namespace, labelSelector: label.child })).items;
  }

  /** Polls `done` until it holds; the time it held first (Date.now()), or undefined at the timeout. */
  async until(done: () => Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await done().catch(() => false)) return Date.now();
      if (Date.now() > deadline) return undefined;
      await sleep(250);
    }
  }

  /** Writes the Lease as another holder would: a thief the replicas have never heard of. */
  async stealLease(holder: string, seconds: number): Promise<void> {
    const key = { namespace: this.namespace, name: "chaos-operator-leader" };
    const lease = await this.client.get(coordinationv1.Lease, key);
    const now = `${new Date().toISOString().slice(0, 23)}000Z`;
    await this.client.update(coordinationv1.Lease, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: holder, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now },
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.stop()));
    await Promise.all(this.replicas.map((r) => r.proxy.stop()));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `work(i)` for i in [0, count) with at most `width` at once. */
export async function pool(count: number, width: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}
