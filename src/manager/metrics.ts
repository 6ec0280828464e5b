import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { TransportObserver } from "../client/transport.ts";
import type { QueueObserver } from "../queue/observer.ts";
import { BoundCounter, BoundHistogram } from "./bound-metrics.ts";

/**
 * Prometheus metrics under controller-runtime's names and labels, so that dashboards and alerts written for Go
 * operators work unchanged. One registry per manager (never prom-client's global one), so that several managers
 * in one process (tests) do not collide.
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly reconcileTotal: BoundCounter;
  private readonly reconcileErrors: Counter<"controller">;
  private readonly terminalErrors: Counter<"controller">;
  private readonly panics: Counter<"controller">;
  private readonly timeouts: Counter<"controller">;
  private readonly reconcileTime: BoundHistogram;
  private readonly maxConcurrent: Gauge<"controller">;
  private readonly adds: BoundCounter;
  private readonly retries: BoundCounter;
  private readonly queueDuration: BoundHistogram;
  private readonly workDuration: BoundHistogram;
  private readonly unfinished: Gauge<"name" | "controller">;
  private readonly longest: Gauge<"name" | "controller">;
  private readonly requests: BoundCounter;
  private readonly requestDuration: BoundHistogram;
  readonly leaderStatus: Gauge<"name">;
  private readonly waitingSources = new Map<string, () => number>();
  private readonly queues = new Map<string, { unfinished: () => number; longest: () => number }>();
  /** Depth and busy workers of each controller's queue, as last reported: read at every scrape. */
  private readonly queueState = new Map<string, { depth: number; active: number }>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new BoundCounter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.terminalErrors = new Counter({
      name: "controller_runtime_terminal_reconcile_errors_total",
      help: "Total number of terminal reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.panics = new Counter({
      name: "controller_runtime_reconcile_panics_total",
      help: "Total number of reconciliation panics (programming errors thrown by a reconcile) per controller",
      labelNames: ["controller"],
      registers,
    });
    this.timeouts = new Counter({
      name: "controller_runtime_reconcile_timeouts_total",
      help: "Total number of reconciliation timeouts per controller",
      labelNames: ["controller"],
      registers,
    });
    this.reconcileTime = new BoundHistogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      buckets: [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
        1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
      ],
      registers,
    });
    this.maxConcurrent = new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: ["controller"],
      registers,
    });
    const state = this.queueState;
    new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers,
      collect() {
        for (const [controller, s] of state) this.set({ controller }, s.active);
      },
    });
    const queueLabels = ["name", "controller"] as const;
    const durationBuckets = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000];
    new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames: queueLabels,
      registers,
      collect() {
        for (const [name, s] of state) this.set({ name, controller: name }, s.depth);
      },
    });
    this.adds = new BoundCounter({
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      registers,
    });
    this.retries = new BoundCounter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      registers,
    });
    this.queueDuration = new BoundHistogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      buckets: durationBuckets,
      registers,
    });
    this.workDuration = new BoundHistogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes",
      buckets: durationBuckets,
      registers,
    });
    const queues = this.queues;
    this.unfinished = new Gauge({
      name: "workqueue_unfinished_work_seconds",
      help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration",
      labelNames: queueLabels,
      registers,
      collect() {
        for (const [name, q] of queues) this.set({ name, controller: name }, q.unfinished());
      },
    });
    this.longest = new Gauge({
      name: "workqueue_longest_running_processor_seconds",
      help: "How many seconds has the longest running processor for workqueue been running",
      labelNames: queueLabels,
      registers,
      collect() {
        for (const [name, q] of queues) this.set({ name, controller: name }, q.longest());
      },
    });
    this.requests = new BoundCounter({
      name: "rest_client_requests_total",
      help: "Number of HTTP requests, partitioned by status code, method, and host",
      registers,
    });
    this.requestDuration = new BoundHistogram({
      name: "rest_client_request_duration_seconds",
      help: "Request latency in seconds, broken down by verb and host",
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    });
    const waiting = this.waitingSources;
    new Gauge({
      name: "converge_controller_waiting_kinds",
      help: "Number of kinds a controller waits for before it can start (kinds the apiserver does not serve yet)",
      labelNames: ["controller"],
      registers,
      collect() {
        for (const [controller, count] of waiting) this.set({ controller }, count());
      },
    });
    this.leaderStatus = new Gauge({
      name: "leader_election_master_status",
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master",
      labelNames: ["name"],
      registers,
    });
  }

  /** Hooks for one controller's queue. */
  queueObserver(
    controller: string,
    maxConcurrency: number,
    queue: () => { unfinished: () => number; longest: () => number } | undefined,
  ): QueueObserver {
    this.maxConcurrent.set({ controller }, maxConcurrency);
    const state = { depth: 0, active: 0 };
    this.queueState.set(controller, state);
    this.reconcileErrors.inc({ controller }, 0);
    this.terminalErrors.inc({ controller }, 0);
    this.panics.inc({ controller }, 0);
    this.timeouts.inc({ controller }, 0);
    const labels = { name: controller, controller };
    // Resolved lazily: the queue is created after its observer.
    let registered = false;
    const register = () => {
      if (registered) return;
      const q = queue();
      if (q) {
        this.queues.set(controller, q);
        registered = true;
      }
    };
    const adds = this.adds.labels(labels);
    const retries = this.retries.labels(labels);
    const queued = this.queueDuration.labels(labels);
    const work = this.workDuration.labels(labels);
    const reconcileTime = this.reconcileTime.labels({ controller });
    const results = new Map<string, { inc(): void }>();
    const result = (r: string): { inc(): void } => {
      let child = results.get(r);
      if (!child) {
        child = this.reconcileTotal.labels({ controller, result: r });
        results.set(r, child);
      }
      return child;
    };
    result("success");
    return {
      added: () => {
        register();
        adds.inc();
      },
      depth: (n) => {
        state.depth = n;
      },
      retried: () => retries.inc(),
      queued: (_key, seconds) => queued.observe(seconds),
      activeWorkers: (n) => {
        state.active = n;
      },
      finished: (_key, outcome, seconds, detail) => {
        result(outcome).inc();
        reconcileTime.observe(seconds);
        work.observe(seconds);
        if (outcome === "error") this.reconcileErrors.inc({ controller });
        if (outcome === "terminal_error") this.terminalErrors.inc({ controller });
        if (detail.timedOut) this.timeouts.inc({ controller });
      },
    };
  }

  /** Reports how many kinds a controller waits for (0 once it can run), read at every scrape. */
  waitingKinds(controller: string, count: () => number): void {
    this.waitingSources.set(controller, count);
  }

  /** Counts a reconcile that threw a programming error (TypeError and the like). */
  panicked(controller: string): void {
    this.panics.inc({ controller });
  }

  transportObserver(): TransportObserver {
    const requests = new Map<string, { inc(): void }>();
    const durations = new Map<string, { observe(v: number): void }>();
    return {
      request: ({ method, code, seconds, host }) => {
        const key = `${code} ${method} ${host}`;
        let counter = requests.get(key);
        if (!counter) {
          counter = this.requests.labels({ code: String(code), method, host });
          requests.set(key, counter);
        }
        counter.inc();
        const verb = `${method} ${host}`;
        let duration = durations.get(verb);
        if (!duration) {
          duration = this.requestDuration.labels({ verb: method, host });
          durations.set(verb, duration);
        }
        duration.observe(seconds);
      },
    };
  }
}
