import type { Metric, Registry } from "prom-client";

/**
 * Counters and histograms of the hot path (every request, every reconcile) whose label sets are bound once, and
 * whose observation is an array increment. prom-client's own children re-validate and re-hash their labels on every
 * `inc` and `observe`, which came to 5 % of an operator's CPU at thousands of objects a second. These serve the same
 * registry with the same exposition (`get()` returns what prom-client's metrics return), so `/metrics` is unchanged.
 */

type Labels = Record<string, string>;

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  /** Labels the exposition prints after `labels` (prom-client puts a histogram's series labels after `le`). */
  sharedLabels?: Labels;
  metricName?: string;
}

interface BoundOptions {
  name: string;
  help: string;
  registers: Registry[];
}

abstract class BoundMetric<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = "sum";
  protected readonly series = new Map<string, S>();

  constructor(options: BoundOptions) {
    this.name = options.name;
    this.help = options.help;
    // The registry formats any metric whose get() answers as prom-client's do; its type names only its own classes.
    for (const r of options.registers) r.registerMetric(this as unknown as Metric);
  }

  abstract get type(): "counter" | "histogram";

  protected abstract values(): MetricValue[];

  async get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: string }> {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series.values()) this.clear(s);
  }

  protected abstract clear(series: S): void;

  protected bind(labels: Labels, make: () => S): S {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) {
      s = make();
      this.series.set(key, s);
    }
    return s;
  }
}

interface CounterSeries {
  labels: Labels;
  value: number;
}

/** A counter of fixed label sets: `labels(...)` once, then `inc()`. */
export class BoundCounter extends BoundMetric<CounterSeries> {
  get type(): "counter" {
    return "counter";
  }

  /** The series of these labels (created at 0, so that it is exported before its first increment). */
  labels(labels: Labels): { inc(by?: number): void } {
    const s = this.bind(labels, () => ({ labels, value: 0 }));
    return {
      inc(by = 1) {
        s.value += by;
      },
    };
  }

  protected values(): MetricValue[] {
    return [...this.series.values()].map((s) => ({ value: s.value, labels: s.labels }));
  }

  protected clear(s: CounterSeries): void {
    s.value = 0;
  }
}

interface HistogramSeries {
  labels: Labels;
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram of fixed label sets: `labels(...)` once, then `observe(v)`. */
export class BoundHistogram extends BoundMetric<HistogramSeries> {
  private readonly bounds: readonly number[];

  constructor(options: BoundOptions & { buckets: readonly number[] }) {
    super(options);
    this.bounds = [...options.buckets].sort((a, b) => a - b);
  }

  get type(): "histogram" {
    return "histogram";
  }

  labels(labels: Labels): { observe(value: number): void } {
    const bounds = this.bounds;
    const s = this.bind(labels, () => ({ labels, counts: new Float64Array(bounds.length), sum: 0, count: 0 }));
    return {
      observe(value: number) {
        s.sum += value;
        s.count++;
        // Buckets are few (a dozen to forty): a linear scan from the bottom is as fast as a search.
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] as number)) {
            s.counts[i] = (s.counts[i] ?? 0) + 1;
            return;
          }
        }
      },
    };
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        out.push({ labels: { le }, sharedLabels: s.labels, value: acc, metricName: bucket });
      });
      out.push({ labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count, metricName: bucket });
      out.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      out.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return out;
  }

  protected clear(s: HistogramSeries): void {
    s.counts.fill(0);
    s.sum = 0;
    s.count = 0;
  }
}
