import type { KubeClient } from "../client/api.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../client/errors.ts";
import * as coordinationv1 from "../types/generated/coordination.v1.ts";

export interface LeaderElectionOptions {
  /** Lease name, e.g. `<operator>-leader`. */
  name: string;
  namespace: string;
  /** This replica's identity (default: hostname + random suffix). */
  identity: string;
  /** How long a lease is valid without renewal (default 15 s, like controller-runtime). */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long (default 10 s). */
  renewDeadlineMs?: number;
  /** How often to try to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  /** Called once when leadership is lost (not when it is released on shutdown). */
  onStoppedLeading?: () => void;
  log?: (level: "info" | "warn", msg: string, fields?: Record<string, unknown>) => void;
}

/** MicroTime as the Lease API serialises it. */
function microTime(d = new Date()): string {
  return `${d.toISOString().slice(0, 23)}000Z`;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a lease is free when its holder has
 * not renewed it for leaseDuration *as observed by this replica's own clock* (the renewTime written by another
 * machine is never compared with ours), writes are optimistic (resourceVersion), and a leader that cannot renew
 * within renewDeadline steps down before another replica can take over.
 */
export class LeaderElector {
  private readonly client: KubeClient;
  private readonly opts: Required<Omit<LeaderElectionOptions, "onStartedLeading" | "onStoppedLeading" | "log">> &
    LeaderElectionOptions;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** The last lease seen, and when (our clock) its record last changed. */
  private observed: { lease: coordinationv1.Lease; at: number; record: string } | undefined;
  private lastRenew = 0;

  constructor(client: KubeClient, options: LeaderElectionOptions) {
    this.client = client;
    this.opts = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...options,
    };
    if (this.opts.renewDeadlineMs >= this.opts.leaseDurationMs) {
      throw new Error("leader election: renewDeadline must be shorter than leaseDuration");
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns in the background; `onStartedLeading` fires when the lease is ours. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader releases the lease so that a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      await this.release().catch((err: Error) =>
        this.opts.log?.("warn", "could not release the lease", { err: err.message }),
      );
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.opts.log?.("warn", "leader election request failed", { err: (err as Error).message });
      }
      if (this.stopped) return;
      const now = Date.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.opts.log?.("info", "became leader", { lease: this.opts.name, identity: this.opts.identity });
          this.opts.onStartedLeading?.();
        }
      } else if (this.leading && now - this.lastRenew > this.opts.renewDeadlineMs) {
        this.leading = false;
        this.opts.log?.("warn", "lost leadership: could not renew the lease in time", { lease: this.opts.name });
        this.opts.onStoppedLeading?.();
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.opts.retryPeriodMs * (this.leading ? 1 : 1 + Math.random() * 0.2));
      });
    }
  }

  private spec(previous?: coordinationv1.LeaseSpec): coordinationv1.LeaseSpec {
    const now = microTime();
    const taking = previous?.holderIdentity !== this.opts.identity;
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.opts.leaseDurationMs / 1000),
      acquireTime: taking ? now : (previous?.acquireTime ?? now),
      renewTime: now,
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (taking && previous?.holderIdentity ? 1 : 0),
    };
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const key = { namespace: this.opts.namespace, name: this.opts.name };
    let lease: coordinationv1.Lease;
    try {
      lease = await this.client.get(coordinationv1.Lease, key);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        const created = await this.client.create(coordinationv1.Lease, { metadata: key, spec: this.spec() });
        this.observe(created);
        return true;
      } catch (createErr) {
        if (isAlreadyExists(createErr)) return false;
        throw createErr;
      }
    }
    this.observe(lease);
    const holder = lease.spec?.holderIdentity;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const expired = !holder || Date.now() > (this.observed?.at ?? 0) + durationMs;
    if (holder && holder !== this.opts.identity && !expired) return false;
    try {
      const updated = await this.client.update(coordinationv1.Lease, { ...lease, spec: this.spec(lease.spec) });
      this.observe(updated);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Tracks when the lease record last changed, by our own clock. */
  private observe(lease: coordinationv1.Lease): void {
    const record = JSON.stringify(lease.spec ?? {});
    if (!this.observed || this.observed.record !== record) this.observed = { lease, at: Date.now(), record };
    else this.observed.lease = lease;
  }

  private async release(): Promise<void> {
    const lease = this.observed?.lease;
    if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
    // As client-go's ReleaseOnCancel: an empty holder with a 1 s duration lets a standby take over at once.
    await this.client.update(coordinationv1.Lease, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime() },
    });
  }
}
