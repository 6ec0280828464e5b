/** The figures a run produces: the JSON file holds exactly these, and the tables and the report are made from them. */
import type { RequestCounts } from "./metrics.ts";

/** CPU seconds (user + system) during one workload: the operator's process tree, the plane, and the rest. */
export interface CpuSplit {
  operator: number;
  apiserver: number;
  etcd: number;
  /** The harness's own process (load generator, tracker, samplers); runs recorded before 2026-12-08 fold it into `other`. */
  harness?: number;
  /**
   * Time the hypervisor ran other guests while this machine wanted the CPU: a round with seconds of it ran on a
   * slower machine than its neighbours. Runs recorded before 2026-12-08 fold it into `other`.
   */
  steal?: number;
  /** Everything else on the machine (the kernel's own work, other processes). */
  other: number;
}

/** The measures every workload reports for every peer (issue 8). */
export interface Measures {
  /** The workload's timed span, in seconds. */
  wallSeconds: number;
  /**
   * The unit of the per-object figures: objects converged (W1, W2), updates that showed up (W3, W5), objects held
   * (W4). The harness sees reconciles only from outside, so "per reconcile" means per object converged.
   */
  objects: number;
  objectsPerSecond: number;
  /** The operator's API requests (apiserver's count minus the harness's own), by `VERB resource code`. */
  requests: RequestCounts;
  /** The operator's requests answered 409 Conflict. */
  conflicts: number;
  peakRssBytes: number;
  settledRssBytes: number;
  /** The peak of the private part of RSS (RssAnon: without the runtime's executable and libraries mapped from files). */
  peakAnonBytes?: number;
  /** (settled RSS − the same peer's RSS with an empty cache) / objects held; undefined when not measured. */
  bytesPerObject: number | undefined;
  cpu: CpuSplit;
  /** RSS over the workload: [seconds since its start, bytes], at most 240 points (the highest of each stretch). */
  rss: Array<[number, number]>;
  /** Set when the workload did not complete (timeout, operator exit): what happened. */
  failure?: string;
}

export interface W1Result extends Measures {
  /** limit's seconds for the same 2N writes / this wall time. */
  limitShare: number | undefined;
  /** API writes per object (a perfect operator: 2, a create and a status update). */
  writesPerObject: number;
}

export interface W2Result extends Measures {
  /** The load generator's N creates (seconds from the first to the last answer). */
  createSeconds: number;
  /** (the load generator's creates + limit's 2N writes) / this wall time. */
  limitShare: number | undefined;
  writesPerObject: number;
}

export interface ChurnStep {
  targetRate: number;
  achievedRate: number;
  sent: number;
  /** Updates whose value showed up in the ConfigMap; a later update to the same Bench can supersede one. */
  seen: number;
  /** Latest values of their Bench not seen within the drain time after the step. */
  unseen: number;
  /** Values a later update of the same Bench overwrote before the operator got to them (not a failure). */
  superseded: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  maxMs: number | undefined;
  sustained: boolean;
  /** Latency over time, per second of the step: [second since the step started, p50 ms, max ms]. */
  perSecond: Array<[number, number, number]>;
  /**
   * Where the latency of the updates seen was spent, p50 / p99 ms of each part: `apiserver`, update sent → the
   * load generator's patch returned; `watch`, sent → the harness's watch of Benches showed the value (what every
   * watcher of Benches, the operator included, gets about then); `operator`, that Bench event → the ConfigMap
   * event (the operator's queue, its reconcile and writes, and the ConfigMap's watch).
   */
  stages?: { apiserver: [number, number]; watch: [number, number]; operator: [number, number] };
}

export interface W3Result extends Measures {
  steps: ChurnStep[];
  /** The highest rate with every update seen and at least 95 % of the rate reached; 0 when none. */
  highestSustained: number;
}

export interface W4Result extends Measures {
  resyncSeconds: number;
  windowSeconds: number;
  /** API writes in the window, per minute (must be 0). */
  writesPerMinute: number;
  /**
   * All API requests after the operator's first 5 s (its start-up list left out), per minute. Runs recorded before
   * 2026-12-08 counted the whole window, the start-up list included.
   */
  requestsPerMinute: number;
  /** Operator CPU seconds per minute, after its first 5 s (start-up and initial list left out). */
  cpuSecondsPerMinute: number;
}

export interface W5Result extends Measures {
  /** Updates sent and not failed whose Bench was still not converged at the end of the drain (must be 0). */
  missed: number;
  /** Seconds from the apiserver being ready again to the first update sent after that showing up. */
  recoverySeconds: number | undefined;
  /** Seconds the apiserver was unavailable (stop, 1 s down, start until ready). */
  downSeconds: number;
  sent: number;
  /** Updates the apiserver refused while restarting (not counted as missed). */
  failed: number;
}

export interface PeerRun {
  /** Peer name and its concurrency, e.g. `controller-runtime`, 4. */
  peer: string;
  workers: number;
  /** Which of the repeated runs of this peer at this concurrency (`--repeat`), from 1; absent when run once. */
  round?: number;
  /** RSS of the operator once up, with one object in its cache (phase A, before W2): the base of bytesPerObject. */
  emptyRssBytes?: number;
  w1?: W1Result;
  w2?: W2Result;
  w3?: W3Result;
  w4?: W4Result;
  w5?: W5Result;
  /** The process did not exit 0 within 5 s of SIGTERM, wrote to stdout, or failed otherwise. */
  problems: string[];
}

/** How a run is named in tables and plots: `converge ×4`, or `converge ×4 #2` for the second of repeated runs. */
export function runLabel(run: Pick<PeerRun, "peer" | "workers" | "round">): string {
  return `${run.peer} ×${run.workers}${run.round ? ` #${run.round}` : ""}`;
}

export interface LimitRun {
  workers: number;
  /** The load generator's N creates, timed like W2's. */
  createSeconds: number;
  /** The limit's 2N writes. */
  writeSeconds: number;
  errors: number;
}

export interface PeerInfo {
  name: string;
  description: string;
  settings: string[];
  /** Why the peer is missing from the tables, when it is. */
  unavailable?: string;
}

export interface SizeResult {
  n: number;
  limit: LimitRun | undefined;
  limitUnavailable?: string;
  runs: PeerRun[];
}

export interface BenchReport {
  date: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    kubeApiserver: string;
    etcd: string;
    pinning: string;
    etcdDataDir: string;
  };
  options: {
    sizes: number[];
    workers: number[];
    bestWorkers: number | undefined;
    /** How many times every peer ran at every concurrency (absent in reports from before `--repeat`). */
    repeat?: number;
    workloads: string[];
    churnRates: number[];
    churnSeconds: number;
    resyncSeconds: number;
    idleSeconds: number;
  };
  peers: PeerInfo[];
  sizes: SizeResult[];
  seconds: number;
}
