/**
 * The harness's own view of one namespace, the same for every peer: a list and watch of Benches and of
 * ConfigMaps that tells when each Bench is converged (its ConfigMap holds `spec.value` under a controller
 * reference to it, and `status.observedGeneration` equals `metadata.generation`), and when a value the load
 * generator wrote showed up in a ConfigMap (W3 latency). Watches resume after they end and relist after
 * 410 Gone or an apiserver restart. Every request it makes is recorded in the ledger, so that it can be told apart
 * from the operator's.
 */
import { ApiError, type Client } from "../src/client/index.ts";
import { controllerOf } from "../src/controller/index.ts";
import type { KubeObject, ResourceType } from "../src/types/index.ts";
import { corev1 } from "../src/types/index.ts";
import { Bench } from "./crd.ts";
import type { Ledger } from "./metrics.ts";

interface State {
  benchUid?: string;
  generation?: number;
  observedGeneration?: number;
  value?: string;
  cmValue?: string;
  cmControllerUid?: string;
  converged: boolean;
}

/** A value the load generator wrote (performance.now() ms), and when the ConfigMap showed it. */
export interface LatencySample {
  name: string;
  sentAt: number;
  /** When the load generator's patch returned: the apiserver had taken the update. */
  ackedAt: number | undefined;
  /** When the harness's own watch of Benches showed the value (every watcher of Benches gets it about then). */
  benchSeenAt: number | undefined;
  seenAt: number;
}

export class Tracker {
  readonly namespace: string;
  /** performance.now() of the last change of the converged count. */
  lastChange = 0;
  readonly latencies: LatencySample[] = [];
  private readonly client: Client;
  private readonly ledger: Ledger;
  private readonly states = new Map<string, State>();
  private convergedCount = 0;
  private readonly pending = new Map<string, number>();
  /** For pending values: when the generator's patch returned, and when the Bench watch showed the value. */
  private readonly stages = new Map<string, { ackedAt?: number; benchSeenAt?: number }>();
  private readonly latestSent = new Map<string, string>();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private waiters: Array<() => void> = [];
  private synced = 0;

  constructor(client: Client, ledger: Ledger, namespace: string) {
    this.client = client;
    this.ledger = ledger;
    this.namespace = namespace;
  }

  /** Starts both watches; resolves once both initial lists are in (rejects after a minute without them). */
  async start(): Promise<void> {
    this.loops.push(
      this.run(Bench, (o) => this.onBench(o)),
      this.run(corev1.ConfigMap, (o) => this.onConfigMap(o)),
    );
    await this.until(() => this.synced >= 2, 60_000, `the harness's lists of ${this.namespace}`);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  get converged(): number {
    return this.convergedCount;
  }

  get benches(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.benchUid) n++;
    return n;
  }

  /** Names of Benches that are not converged (at most `max`). */
  unconverged(max = 5): string[] {
    const out: string[] = [];
    for (const [name, s] of this.states) {
      if (s.benchUid && !s.converged) out.push(name);
      if (out.length >= max) break;
    }
    return out;
  }

  /** Remember that `value` was written to Bench `name` at `sentAt` (performance.now() ms). */
  expect(name: string, value: string, sentAt: number): void {
    this.pending.set(`${name}\u0000${value}`, sentAt);
    this.latestSent.set(name, value);
  }

  /** A write that failed: its value will never show. */
  forget(name: string, value: string): void {
    this.pending.delete(`${name}\u0000${value}`);
    this.stages.delete(`${name}\u0000${value}`);
  }

  /** The load generator's write of `value` to Bench `name` returned. */
  acked(name: string, value: string): void {
    const key = `${name}\u0000${value}`;
    if (this.pending.has(key)) this.stage(key).ackedAt = performance.now();
  }

  private stage(key: string): { ackedAt?: number; benchSeenAt?: number } {
    let stage = this.stages.get(key);
    if (!stage) {
      stage = {};
      this.stages.set(key, stage);
    }
    return stage;
  }

  /**
   * Latest values written whose ConfigMap has not shown them yet. An older value of the same Bench may never show:
   * an operator that gets to the Bench after the next write reconciles straight to the newer value.
   */
  get outstanding(): number {
    let n = 0;
    for (const key of this.pending.keys()) {
      const [name = "", value] = key.split("\u0000");
      if (this.latestSent.get(name) === value) n++;
    }
    return n;
  }

  /** Forgets every value still pending: `unseen` latest values, and `superseded` older ones. */
  dropPending(): { unseen: number; superseded: number } {
    const unseen = this.outstanding;
    const superseded = this.pending.size - unseen;
    this.pending.clear();
    this.stages.clear();
    return { unseen, superseded };
  }

  /** Resolves when `predicate()` holds (checked on every change), or rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`${what}: not reached within ${(timeoutMs / 1000).toFixed(0)} s`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private state(name: string): State {
    let s = this.states.get(name);
    if (!s) {
      s = { converged: false };
      this.states.set(name, s);
    }
    return s;
  }

  private onBench(obj: Bench | undefined, name?: string): void {
    const s = this.state(name ?? obj?.metadata?.name ?? "");
    s.benchUid = obj?.metadata?.uid;
    s.generation = obj?.metadata?.generation;
    s.observedGeneration = obj?.status?.observedGeneration;
    s.value = obj?.spec.value;
    if (s.value !== undefined && this.pending.size > 0) {
      const key = `${name ?? obj?.metadata?.name ?? ""}\u0000${s.value}`;
      if (this.pending.has(key)) this.stage(key).benchSeenAt ??= performance.now();
    }
    this.update(s);
  }

  private onConfigMap(obj: corev1.ConfigMap | undefined, name?: string): void {
    const key = name ?? obj?.metadata?.name ?? "";
    const s = this.state(key);
    s.cmValue = obj?.data?.value;
    s.cmControllerUid = obj ? controllerOf(obj)?.uid : undefined;
    if (s.cmValue !== undefined) {
      const pendingKey = `${key}\u0000${s.cmValue}`;
      const sentAt = this.pending.get(pendingKey);
      if (sentAt !== undefined) {
        this.pending.delete(pendingKey);
        const stage = this.stages.get(pendingKey);
        this.stages.delete(pendingKey);
        this.latencies.push({
          name: key,
          sentAt,
          ackedAt: stage?.ackedAt,
          benchSeenAt: stage?.benchSeenAt,
          seenAt: performance.now(),
        });
      }
    }
    this.update(s);
  }

  private update(s: State): void {
    const converged =
      s.benchUid !== undefined &&
      s.cmValue === s.value &&
      s.cmControllerUid === s.benchUid &&
      s.observedGeneration === s.generation;
    if (converged !== s.converged) {
      s.converged = converged;
      this.convergedCount += converged ? 1 : -1;
      this.lastChange = performance.now();
    }
    this.notify();
  }

  /** List, then watch from the list's resourceVersion; resume after the watch ends; relist after 410 or errors. */
  private async run<T extends KubeObject>(type: ResourceType<T>, apply: (obj: T | undefined, name?: string) => void) {
    const signal = this.abort.signal;
    let first = true;
    while (!signal.aborted) {
      let rv: string | undefined;
      try {
        const list = await this.client.list(type, { namespace: this.namespace, signal });
        this.ledger.record("LIST", type.plural, 200);
        const seen = new Set<string>();
        for (const obj of list.items) {
          seen.add(obj.metadata?.name ?? "");
          apply(obj);
        }
        // Objects deleted while the watch was down.
        for (const [name, s] of this.states) {
          const present = type.plural === "benches" ? s.benchUid !== undefined : s.cmValue !== undefined;
          if (present && !seen.has(name)) apply(undefined, name);
        }
        rv = list.metadata.resourceVersion;
        if (first) {
          first = false;
          this.synced++;
          this.notify();
        }
        while (!signal.aborted && rv) {
          let gone = false;
          try {
            for await (const ev of this.client.watch(type, {
              namespace: this.namespace,
              resourceVersion: rv,
              signal,
            })) {
              if (ev.type === "ERROR") {
                gone = true;
                break;
              }
              rv = ev.object.metadata?.resourceVersion ?? rv;
              apply(ev.type === "DELETED" ? undefined : ev.object, ev.object.metadata?.name);
            }
          } finally {
            this.ledger.record("WATCH", type.plural, 200);
          }
          if (gone) break;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError) this.ledger.record(rv ? "WATCH" : "LIST", type.plural, err.code);
        // The apiserver is restarting (W5), or the watch broke: try again shortly, from a fresh list.
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
