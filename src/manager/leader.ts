import type { KubeClient } from "../client/api.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../client/errors.ts";
import { NotLeaderError } from "../client/fence.ts";
import * as coordinationv1 from "../types/generated/coordination.v1.ts";

/** The clocks leader election reads; injectable for tests. */
export interface LeaderClock {
  /** Milliseconds on a clock that never steps (default `performance.now()`): every duration is measured on it. */
  monotonic(): number;
  /** The wall clock (default `new Date()`): only written into the Lease's acquireTime and renewTime. */
  wall(): Date;
}

const systemClock: LeaderClock = { monotonic: () => performance.now(), wall: () => new Date() };

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
  clock?: LeaderClock;
  onStartedLeading?: () => void;
  /** Called once, synchronously, when leadership is lost (not when it is released on shutdown). */
  onStoppedLeading?: (reason: string) => void;
  log?: (level: "info" | "warn", msg: string, fields?: Record<string, unknown>) => void;
}

/** MicroTime as the Lease API serialises it. */
function microTime(d: Date): string {
  return `${d.toISOString().slice(0, 23)}000Z`;
}

type Attempt = { outcome: "ok"; sentAt: number } | { outcome: "held"; holder: string } | { outcome: "failed" };

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a lease is free when its holder has
 * not renewed it for leaseDuration *as observed by this replica's own clock* (the renewTime written by another
 * machine is never compared with ours), and writes are optimistic (resourceVersion).
 *
 * Safety rests on one fence: this replica may write only while `monotonic() < sent + renewDeadline`, where `sent`
 * is when the last successful renewal was sent. Another replica can see that renewal no earlier than it was sent,
 * and waits a full leaseDuration from then on its own clock, so every write the fence let through has
 * leaseDuration − renewDeadline to land before a successor can start. Every attempt is aborted when the fence
 * closes (a renewal stuck on a half-open connection cannot keep this replica leading), durations are measured on
 * the monotonic clock (a wall-clock step cannot extend it), and a Lease seen held by another identity ends
 * leadership at once.
 */
export class LeaderElector {
  private readonly client: KubeClient;
  private readonly opts: Required<Omit<LeaderElectionOptions, "onStartedLeading" | "onStoppedLeading" | "log">> &
    LeaderElectionOptions;
  private readonly clock: LeaderClock;
  private leading = false;
  private ended = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private attempt: AbortController | undefined;
  /** The last lease seen, and when (monotonic) its record last changed. */
  private observed: { lease: coordinationv1.Lease; at: number; record: string } | undefined;
  /** Writes are allowed until this monotonic time (while leading). */
  private fenceUntil = 0;
  private readonly fenceController = new AbortController();

  constructor(client: KubeClient, options: LeaderElectionOptions) {
    this.client = client;
    this.opts = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...options,
      clock: options.clock ?? systemClock,
    };
    this.clock = this.opts.clock;
    if (this.opts.renewDeadlineMs >= this.opts.leaseDurationMs) {
      throw new Error("leader election: renewDeadline must be shorter than leaseDuration");
    }
  }

  get isLeader(): boolean {
    return this.leading && this.checkFence();
  }

  /** Aborts when this replica stops being allowed to write: leadership lost, or the lease released. */
  get fenceSignal(): AbortSignal {
    return this.fenceController.signal;
  }

  /**
   * Whether this replica may write now: it leads and its last successful renewal is younger than renewDeadline.
   * A fence found expired here (the process was frozen, or the clock stepped) ends leadership on the spot.
   */
  checkFence(): boolean {
    if (!this.leading) return false;
    if (this.clock.monotonic() < this.fenceUntil) return true;
    this.lose("could not renew the lease within the renew deadline");
    return false;
  }

  /** Campaigns in the background; `onStartedLeading` fires when the lease is ours. */
  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Stops campaigning. A leader closes the fence first (writes are refused from then on) and then, with
   * `release` (default true), releases the lease so that a standby takes over at once; without it, the lease
   * is left to expire.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    // A leader's renewal in flight is let finish (the fence bounds it), so that the release has the lease's
    // latest resourceVersion; a candidate's attempt is abandoned.
    if (!this.leading) this.attempt?.abort(new NotLeaderError("leader election stopped"));
    await this.loop;
    const wasLeading = this.leading;
    this.end();
    this.abortWrites("the lease was released");
    if (wasLeading && options.release !== false) {
      await this.release().catch((err: Error) =>
        this.opts.log?.("warn", "could not release the lease", { err: err.message }),
      );
    }
  }

  /** Ends leadership for good: the fence closes (checkFence() is false from now on). */
  private end(): void {
    this.leading = false;
    clearTimeout(this.fenceTimer);
  }

  /** Aborts the fenced writes still queued or in flight. */
  private abortWrites(reason: string): void {
    if (!this.fenceController.signal.aborted)
      this.fenceController.abort(new NotLeaderError(`not the leader: ${reason}`));
  }

  private lose(reason: string): void {
    if (!this.leading || this.ended) return;
    this.ended = true;
    this.end();
    this.attempt?.abort(new NotLeaderError(reason));
    clearTimeout(this.timer);
    this.wake?.();
    this.opts.log?.("warn", `lost leadership: ${reason}`, { lease: this.opts.name, identity: this.opts.identity });
    this.opts.onStoppedLeading?.(reason);
    // New writes are refused already. Writes in flight are aborted on the next turn, after the timers that
    // onStoppedLeading set to abort the reconciles' signals: a reconcile whose write fails sees its signal aborted.
    setTimeout(() => this.abortWrites(reason), 0);
  }

  private async run(): Promise<void> {
    while (!this.stopped && !this.ended) {
      const attempt = new AbortController();
      this.attempt = attempt;
      // A leader's attempt may take until its fence closes; a candidate's, a renew deadline.
      const budget = this.leading ? this.fenceUntil - this.clock.monotonic() : this.opts.renewDeadlineMs;
      const bound = setTimeout(
        () => attempt.abort(new Error(`lease request timed out after ${Math.round(budget)} ms`)),
        Math.max(0, budget),
      );
      let result: Attempt = { outcome: "failed" };
      try {
        result = await this.tryAcquireOrRenew(attempt.signal);
      } catch (err) {
        if (!attempt.signal.aborted || !this.stopped) {
          this.opts.log?.("warn", "leader election request failed", {
            err: ((attempt.signal.aborted ? attempt.signal.reason : err) as Error).message,
          });
        }
      } finally {
        clearTimeout(bound);
        this.attempt = undefined;
      }
      if (this.stopped || this.ended) return;
      if (result.outcome === "ok") {
        this.fenceUntil = Math.max(this.fenceUntil, result.sentAt + this.opts.renewDeadlineMs);
        this.armFence();
        if (!this.leading) {
          this.leading = true;
          this.opts.log?.("info", "became leader", { lease: this.opts.name, identity: this.opts.identity });
          this.opts.onStartedLeading?.();
        }
      } else if (result.outcome === "held" && this.leading) {
        this.lose(`the lease is held by ${result.holder}`);
        return;
      } else if (this.leading && !this.checkFence()) {
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.opts.retryPeriodMs * (this.leading ? 1 : 1 + Math.random() * 0.2));
      });
    }
  }

  /** Ends leadership when the fence closes, even while a renewal hangs. */
  private armFence(): void {
    clearTimeout(this.fenceTimer);
    const left = Math.max(1, Math.ceil(this.fenceUntil - this.clock.monotonic()));
    this.fenceTimer = setTimeout(() => {
      // A timer may fire a little before the clock it was set by: then it waits the rest.
      if (this.checkFence()) this.armFence();
    }, left);
  }

  private spec(previous?: coordinationv1.LeaseSpec): coordinationv1.LeaseSpec {
    const now = microTime(this.clock.wall());
    const taking = previous?.holderIdentity !== this.opts.identity;
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.opts.leaseDurationMs / 1000),
      acquireTime: taking ? now : (previous?.acquireTime ?? now),
      renewTime: now,
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (taking && previous?.holderIdentity ? 1 : 0),
    };
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const key = { namespace: this.opts.namespace, name: this.opts.name };
    // A leader renews on the lease it last wrote, in one request, as client-go does: under throttling or errors,
    // each attempt then has one request to get through rather than two. If that fails (the lease moved on, or the
    // request did), the attempt goes on the slow way: read, then write.
    const last = this.observed?.lease;
    if (this.leading && last?.spec?.holderIdentity === this.opts.identity && !signal.aborted) {
      try {
        const sentAt = this.clock.monotonic();
        const updated = await this.client.update(
          coordinationv1.Lease,
          { ...last, spec: this.spec(last.spec) },
          {
            signal,
          },
        );
        this.observe(updated);
        return { outcome: "ok", sentAt };
      } catch {
        if (signal.aborted) return { outcome: "failed" };
      }
    }
    let lease: coordinationv1.Lease;
    try {
      lease = await this.client.get(coordinationv1.Lease, key, { signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        const sentAt = this.clock.monotonic();
        const created = await this.client.create(
          coordinationv1.Lease,
          { metadata: key, spec: this.spec() },
          { signal },
        );
        this.observe(created);
        return { outcome: "ok", sentAt };
      } catch (createErr) {
        if (isAlreadyExists(createErr)) return { outcome: "failed" };
        throw createErr;
      }
    }
    this.observe(lease);
    const holder = lease.spec?.holderIdentity;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const expired = !holder || this.clock.monotonic() > (this.observed?.at ?? 0) + durationMs;
    if (holder && holder !== this.opts.identity && !expired) return { outcome: "held", holder };
    try {
      const sentAt = this.clock.monotonic();
      const updated = await this.client.update(
        coordinationv1.Lease,
        { ...lease, spec: this.spec(lease.spec) },
        { signal },
      );
      this.observe(updated);
      return { outcome: "ok", sentAt };
    } catch (err) {
      if (isConflict(err)) return { outcome: "failed" };
      throw err;
    }
  }

  /** Tracks when the lease record last changed, by our own (monotonic) clock. */
  private observe(lease: coordinationv1.Lease): void {
    const record = JSON.stringify(lease.spec ?? {});
    if (!this.observed || this.observed.record !== record) {
      this.observed = { lease, at: this.clock.monotonic(), record };
    } else this.observed.lease = lease;
  }

  private async release(): Promise<void> {
    const lease = this.observed?.lease;
    if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
    // As client-go's ReleaseOnCancel: an empty holder with a 1 s duration lets a standby take over at once.
    await this.client.update(
      coordinationv1.Lease,
      {
        ...lease,
        spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(this.clock.wall()) },
      },
      { signal: AbortSignal.timeout(this.opts.renewDeadlineMs) },
    );
  }
}
