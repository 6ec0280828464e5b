import type { ObjectKey } from "./api.ts";

/** The kind a write is for. */
export interface WriteKind {
  apiVersion: string;
  kind: string;
}

/**
 * A write refused before it was sent, because this replica does not hold (or no longer holds) its leader Lease:
 * another replica may be writing now. Thrown by a fenced client; never retried.
 */
export class NotLeaderError extends Error {
  constructor(message = "not the leader: writes are refused") {
    super(message);
    this.name = "NotLeaderError";
  }
}

export const isNotLeader = (err: unknown): err is NotLeaderError => err instanceof NotLeaderError;

/**
 * Decides whether a client may send a write: a manager that elects a leader installs one once it leads, so that
 * only the Lease holder writes.
 */
export interface WriteFence {
  /**
   * Called before each write is sent. Throws (a NotLeaderError) to refuse it; returns false for a write the fence
   * does not govern (an Event, the Lease itself), true for one it allows.
   */
  admit(type: WriteKind, key: ObjectKey): boolean;
  /** Aborts when writes stop being allowed: governed writes still queued or in flight then are cancelled. */
  readonly signal: AbortSignal;
}

/** The fenced writes a client has in flight, and a way to wait until there are none. */
export class WritesInFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  get size(): number {
    return this.count;
  }

  /**
   * Runs a governed write: refused by `fence` before it is sent, given a signal that also aborts when the fence
   * closes, and counted until it settles. A write the fence cancelled fails with the fence's reason.
   */
  async run<R>(
    fence: WriteFence | undefined,
    type: WriteKind,
    key: ObjectKey,
    signal: AbortSignal | undefined,
    send: (signal: AbortSignal | undefined) => Promise<R>,
  ): Promise<R> {
    if (!fence?.admit(type, key)) return send(signal);
    const combined = signal ? AbortSignal.any([signal, fence.signal]) : fence.signal;
    this.count++;
    try {
      return await send(combined);
    } catch (err) {
      if (fence.signal.aborted && !signal?.aborted) throw fence.signal.reason;
      throw err;
    } finally {
      if (--this.count === 0) for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves true once no fenced write is in flight, or false after `timeoutMs`. */
  settled(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(
        () => {
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve(false);
        },
        Math.max(0, timeoutMs),
      );
      this.waiters.push(done);
    });
  }
}
