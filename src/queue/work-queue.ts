import { type BackoffOptions, backoffDelay, jittered, resolveBackoff, retryAfterMs } from "./backoff.ts";
import { IndexedHeap } from "./heap.ts";
import type { QueueObserver, ReconcileResultLabel, RunDetail } from "./observer.ts";
import { DEFAULT_RETRY_RATE_LIMIT, type RateLimit, TokenBucket } from "./rate-limit.ts";
import type { ReconcileResult } from "./result.ts";

/**
 * Reconciles one key. The signal aborts when the run exceeds `timeoutMs` or when shutdown gives up waiting on it;
 * the key stays in flight until the returned promise settles either way.
 */
export type ReconcileHandler = (key: string, signal: AbortSignal) => Promise<ReconcileResult>;

/** Options of a {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Names the queue in metrics and warnings. */
  name: string;
  /** How many runs (always of different keys) may be in flight at once. Default 1. */
  maxConcurrency?: number;
  /** Per-key exponential backoff after failed runs. Default 5 ms doubling, capped at 1000 s, 10% jitter. */
  backoff?: BackoffOptions;
  /**
   * A token bucket over the retries of all keys (default 10 per second, burst 100, as controller-runtime's);
   * a retry waits for the longest of its key's backoff, this limit, and the failure's Retry-After. `false`: no
   * overall limit.
   */
  retryRateLimit?: Partial<RateLimit> | false;
  /**
   * Per-run timeout: aborts the handler's signal and counts the run as an error once the handler settles. The key
   * stays in flight (and keeps its worker) until then, so a key never runs twice at once.
   */
  timeoutMs?: number;
  /** Metric hooks. */
  observer?: QueueObserver;
}

/** Options of {@link WorkQueue.add}. */
export interface AddOptions {
  /** Higher runs first; equal priorities run in the order they became ready. Default 0. */
  priority?: number;
  /** Wait this long before the key becomes ready. Default 0 (ready now). */
  afterMs?: number;
}

/** Options of {@link WorkQueue.shutdown}. */
export interface ShutdownOptions {
  /** How long to wait for in-flight runs. Default 30,000 ms. */
  timeoutMs?: number;
}

/** What {@link WorkQueue.shutdown} resolves with. */
export interface ShutdownResult {
  /** Keys whose runs were still in flight when the wait ended (their signals are then aborted). */
  unfinished: string[];
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
// Node turns longer setTimeout delays into 1 ms; longer waits re-arm when the clamped timer fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A key waiting to run: delayed, ready, or parked until its own in-flight run ends. At most one per key. */
interface Waiting {
  readonly key: string;
  priority: number;
  /** When the key becomes (or became) ready, on the performance.now() clock. */
  readyAt: number;
  /** Increasing counter: the FIFO order among equal priorities once ready, a tie-break while delayed. */
  seq: number;
  state: "delayed" | "ready" | "parked";
  heapIndex: number;
}

/** A run in flight. */
interface Run {
  readonly startedAt: number;
  readonly priority: number;
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  timedOut: boolean;
}

/** Higher priority first, then the earlier to become ready. */
function readyBefore(a: Waiting, b: Waiting): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

function dueBefore(a: Waiting, b: Waiting): boolean {
  return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.seq < b.seq);
}

function labelOf(kind: ReconcileResult["kind"]): ReconcileResultLabel {
  switch (kind) {
    case "done":
      return "success";
    case "requeueAfter":
      return "requeue_after";
    case "terminal":
      return "terminal_error";
    default:
      return "error";
  }
}

function isResult(value: unknown): value is ReconcileResult {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  if (kind === "requeueAfter") return typeof (value as { ms?: unknown }).ms === "number";
  return kind === "done" || kind === "error" || kind === "terminal";
}

/**
 * A keyed work queue that also runs the workers, so that "one run in flight per key" is enforced in one place.
 *
 * A key waits at most once: adding a waiting key merges into its entry (the higher priority and the earlier ready
 * time win). A key added while it runs waits, parked, and runs once more after the current run, however often it
 * was added meanwhile. Ready keys run by priority, then in the order they became ready, on up to `maxConcurrency`
 * workers. Failed runs are retried with per-key exponential backoff. Every operation is O(log n) in the number of
 * waiting keys: a heap of ready keys, a heap of delayed keys behind a single timer, and a map from key to entry.
 */
export class WorkQueue {
  /** The queue's name, for metrics and warnings. */
  readonly name: string;

  readonly #handler: ReconcileHandler;
  readonly #maxConcurrency: number;
  readonly #backoff: Required<BackoffOptions>;
  readonly #timeoutMs: number | undefined;
  readonly #observer: QueueObserver | undefined;
  readonly #retryLimit: TokenBucket | undefined;

  readonly #waiting = new Map<string, Waiting>();
  readonly #ready = new IndexedHeap<Waiting>(readyBefore);
  readonly #delayed = new IndexedHeap<Waiting>(dueBefore);
  readonly #running = new Map<string, Run>();
  readonly #failures = new Map<string, number>();
  #seq = 0;

  #started = false;
  #closed = false;
  #pumpScheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  #shutdown: Promise<ShutdownResult> | undefined;
  #onDrained: (() => void) | undefined;

  /** Creates a stopped queue; keys added before {@link WorkQueue.start} are kept. */
  constructor(handler: ReconcileHandler, options: WorkQueueOptions) {
    const maxConcurrency = options.maxConcurrency ?? 1;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new RangeError(`maxConcurrency must be an integer >= 1, got ${maxConcurrency}`);
    }
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
    this.name = options.name;
    this.#handler = handler;
    this.#maxConcurrency = maxConcurrency;
    this.#backoff = resolveBackoff(options.backoff);
    this.#timeoutMs = timeoutMs;
    this.#observer = options.observer;
    if (options.retryRateLimit !== false) {
      this.#retryLimit = new TokenBucket({ ...DEFAULT_RETRY_RATE_LIMIT, ...options.retryRateLimit });
    }
  }

  /** Keys waiting to run, ready or delayed (including keys that will run again after their current run). */
  get depth(): number {
    return this.#waiting.size;
  }

  /** Runs in flight, including timed-out runs whose handler has not settled yet. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Consecutive failed runs recorded for a key; 0 after a run that did not fail. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The summed running time of the runs in flight, in seconds (workqueue_unfinished_work_seconds). */
  unfinishedWorkSeconds(): number {
    const now = performance.now();
    let total = 0;
    for (const run of this.#running.values()) total += now - run.startedAt;
    return total / 1000;
  }

  /** The running time of the longest run in flight, in seconds (workqueue_longest_running_processor_seconds). */
  longestRunningProcessorSeconds(): number {
    const now = performance.now();
    let longest = 0;
    for (const run of this.#running.values()) longest = Math.max(longest, now - run.startedAt);
    return longest / 1000;
  }

  /** Queues a key, or merges into its waiting entry. Ignored after {@link WorkQueue.shutdown}. */
  add(key: string, options: AddOptions = {}): void {
    const priority = options.priority ?? 0;
    const afterMs = options.afterMs ?? 0;
    if (Number.isNaN(priority)) throw new RangeError("priority must be a number, got NaN");
    if (Number.isNaN(afterMs)) throw new RangeError("afterMs must be a number, got NaN");
    this.#accept(key, priority, afterMs);
  }

  /** Starts running ready keys. Idempotent; does nothing after shutdown. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#promoteDue();
    this.#armTimer();
    this.#schedulePump();
  }

  /**
   * Stops intake (later adds are ignored), drops the waiting keys and waits for the runs in flight, up to
   * `timeoutMs`. Runs still in flight then have their signals aborted and are listed in `unfinished`; the queue
   * holds no timers once this resolves. Repeated calls return the first call's promise.
   */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownResult> {
    if (this.#shutdown !== undefined) return this.#shutdown;
    this.#closed = true;
    this.#clearTimer();
    if (this.#waiting.size > 0) {
      this.#ready.clear();
      this.#delayed.clear();
      this.#waiting.clear();
      this.#emit("depth", 0);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.#shutdown = new Promise<ShutdownResult>((resolve) => {
      if (this.#running.size === 0) {
        resolve({ unfinished: [] });
        return;
      }
      const cap = setTimeout(() => {
        this.#onDrained = undefined;
        const reason = new DOMException(`work queue ${this.name} shut down before the run finished`, "AbortError");
        for (const run of this.#running.values()) {
          clearTimeout(run.timer);
          run.timer = undefined;
          run.controller.abort(reason);
        }
        resolve({ unfinished: [...this.#running.keys()] });
      }, timeoutMs);
      this.#onDrained = () => {
        clearTimeout(cap);
        this.#onDrained = undefined;
        resolve({ unfinished: [] });
      };
    });
    return this.#shutdown;
  }

  /** The one path by which keys enter the queue: user adds and requeues after runs. False once closed. */
  #accept(key: string, priority: number, afterMs: number): boolean {
    if (this.#closed) return false;
    const now = performance.now();
    const readyAt = afterMs > 0 ? now + afterMs : now;
    const entry = this.#waiting.get(key);
    if (entry === undefined) {
      const fresh: Waiting = { key, priority, readyAt, seq: 0, state: "delayed", heapIndex: -1 };
      this.#waiting.set(key, fresh);
      if (readyAt > now) this.#delay(fresh);
      else this.#makeReady(fresh);
      this.#emit("depth", this.#waiting.size);
    } else {
      this.#merge(entry, priority, readyAt, now);
    }
    this.#emit("added", key);
    return true;
  }

  /** A second add of a waiting key: the higher priority and the earlier ready time win. */
  #merge(entry: Waiting, priority: number, readyAt: number, now: number): void {
    if (priority > entry.priority) {
      entry.priority = priority;
      if (entry.state === "ready") this.#ready.update(entry);
    }
    if (entry.state !== "delayed" || readyAt >= entry.readyAt) return;
    if (readyAt > now) {
      entry.readyAt = readyAt;
      this.#delayed.update(entry);
      this.#armTimer();
    } else {
      this.#delayed.remove(entry);
      entry.readyAt = readyAt;
      this.#makeReady(entry);
      this.#armTimer(); // may clear a timer that only this entry needed
    }
  }

  #delay(entry: Waiting): void {
    entry.state = "delayed";
    entry.seq = ++this.#seq;
    this.#delayed.push(entry);
    this.#armTimer();
  }

  /** The entry's ready time has come: it queues to run, or parks behind its key's run in flight. */
  #makeReady(entry: Waiting): void {
    entry.seq = ++this.#seq;
    if (this.#running.has(entry.key)) {
      entry.state = "parked";
      return;
    }
    entry.state = "ready";
    this.#ready.push(entry);
    this.#schedulePump();
  }

  #promoteDue(): void {
    const now = performance.now();
    for (let next = this.#delayed.peek(); next !== undefined && next.readyAt <= now; next = this.#delayed.peek()) {
      this.#delayed.pop();
      this.#makeReady(next);
    }
  }

  /**
   * Keeps one timer for the earliest delayed key. It is only armed while the queue runs, so a queue that was never
   * started or was shut down holds none; while it runs, pending delayed work keeps the process alive on purpose.
   */
  #armTimer(): void {
    if (!this.#started || this.#closed) return;
    const next = this.#delayed.peek();
    if (next === undefined) {
      this.#clearTimer();
      return;
    }
    // A timer due no later than the earliest key is enough: when it fires it re-arms for whatever is left.
    if (this.#timer !== undefined && this.#timerDue <= next.readyAt) return;
    this.#clearTimer();
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(next.readyAt - performance.now())));
    this.#timerDue = next.readyAt;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#promoteDue();
      this.#armTimer(); // also covers a timer that fired a little early by the performance.now() clock
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // Runs start from a microtask: a burst of adds is ordered by priority before any starts, and a handler is never
  // called re-entrantly from inside add().
  #schedulePump(): void {
    if (this.#pumpScheduled || !this.#started || this.#closed) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#maxConcurrency) {
      const entry = this.#ready.pop();
      if (entry === undefined) return;
      this.#waiting.delete(entry.key);
      this.#emit("depth", this.#waiting.size);
      this.#startRun(entry);
    }
  }

  #startRun(entry: Waiting): void {
    const key = entry.key;
    const run: Run = {
      startedAt: performance.now(),
      priority: entry.priority,
      controller: new AbortController(),
      timer: undefined,
      timedOut: false,
    };
    this.#running.set(key, run);
    this.#emit("activeWorkers", this.#running.size);
    this.#emit("queued", key, Math.max(0, run.startedAt - entry.readyAt) / 1000);
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs !== undefined) {
      run.timer = setTimeout(() => {
        run.timer = undefined;
        run.timedOut = true;
        run.controller.abort(new DOMException(`reconcile of ${key} timed out after ${timeoutMs} ms`, "TimeoutError"));
      }, timeoutMs);
    }
    void this.#execute(key, run);
  }

  /** Awaits the handler; never rejects, whatever the handler does. */
  async #execute(key: string, run: Run): Promise<void> {
    let result: ReconcileResult;
    let threw = false;
    try {
      const value: unknown = await this.#handler(key, run.controller.signal);
      result = isResult(value)
        ? value
        : { kind: "error", error: new TypeError(`reconcile of ${key} returned an invalid result`) };
    } catch (error) {
      threw = true;
      result = { kind: "error", error };
    }
    this.#finish(key, run, result, threw);
  }

  #finish(key: string, run: Run, result: ReconcileResult, threw: boolean): void {
    clearTimeout(run.timer);
    this.#running.delete(key);
    const seconds = (performance.now() - run.startedAt) / 1000;
    // An add that came in during the run was parked; now it may queue.
    const parked = this.#waiting.get(key);
    if (parked?.state === "parked") {
      parked.state = "ready";
      this.#ready.push(parked);
    }
    const detail: RunDetail = { threw, timedOut: run.timedOut };
    const kind = run.timedOut ? "error" : result.kind;
    if (kind === "error") {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      if (!this.#closed) {
        this.#emit("retried", key);
        this.#accept(key, run.priority, this.#retryDelay(failures, result));
      }
    } else {
      this.#failures.delete(key);
      if (result.kind === "requeueAfter") this.#accept(key, run.priority, result.ms);
    }
    this.#emit("activeWorkers", this.#running.size);
    this.#emit("finished", key, labelOf(kind), seconds, detail);
    if (this.#closed) {
      if (this.#running.size === 0) this.#onDrained?.();
    } else {
      this.#schedulePump();
    }
  }

  /**
   * The wait before retrying a failed run: the longest of the key's jittered backoff, the failure's own
   * Retry-After (a throttled apiserver says when to come back) and the overall retry rate limit.
   */
  #retryDelay(failures: number, result: ReconcileResult): number {
    const backoff = jittered(backoffDelay(failures, this.#backoff), this.#backoff.jitter);
    const retryAfter = result.kind === "error" ? retryAfterMs(result.error) : 0;
    return Math.max(backoff, retryAfter, this.#retryLimit?.reserve() ?? 0);
  }

  #emit<K extends keyof QueueObserver>(hook: K, ...args: Parameters<NonNullable<QueueObserver[K]>>): void {
    const observer = this.#observer;
    const fn = observer?.[hook] as ((...a: typeof args) => void) | undefined;
    if (fn === undefined) return;
    try {
      fn.apply(observer, args);
    } catch (err) {
      process.emitWarning(`work queue ${this.name}: observer hook ${hook} threw: ${String(err)}`, "ConvergeWarning");
    }
  }
}
