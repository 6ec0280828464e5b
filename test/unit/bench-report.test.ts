/**
 * bench/report.ts: with repeated runs (`--repeat`), ratios and the targets' verdicts come from each peer's median,
 * and every run keeps its own row.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { BenchReport, Measures, PeerRun, W2Result } from "../../bench/figures.ts";
import { markdownReport, median, targets } from "../../bench/report.ts";

function w2(wallSeconds: number, peakRssMb: number, cpuSeconds: number): W2Result {
  const m: Measures = {
    wallSeconds,
    objects: 1000,
    objectsPerSecond: 1000 / wallSeconds,
    requests: {},
    conflicts: 0,
    peakRssBytes: peakRssMb * 2 ** 20,
    settledRssBytes: peakRssMb * 2 ** 20,
    bytesPerObject: undefined,
    cpu: { operator: cpuSeconds, apiserver: 0, etcd: 0, other: 0 },
    rss: [],
  };
  return { ...m, createSeconds: 1, limitShare: undefined, writesPerObject: 2 };
}

function run(peer: string, round: number, wall: number, rss: number): PeerRun {
  return { peer, workers: 4, round, w2: w2(wall, rss, 1), problems: [] };
}

/**
 * Interleaved rounds, as `--repeat` runs them; each round is [Converge's wall s, its peak RSS MB,
 * controller-runtime's wall s, its peak RSS MB].
 */
function rounds(...each: Array<[number, number, number, number]>): PeerRun[] {
  return each.flatMap(([cw, cr, pw, pr], i) => [
    run("converge", i + 1, cw, cr),
    run("controller-runtime", i + 1, pw, pr),
  ]);
}

function report(runs: PeerRun[]): BenchReport {
  return {
    date: "2026-12-07T00:00:00.000Z",
    machine: {
      cpus: 2,
      cpuModel: "test",
      memoryGiB: 1,
      node: "v24",
      platform: "linux",
      kubeApiserver: "v1",
      etcd: "3",
      pinning: "none",
      etcdDataDir: "/tmp",
    },
    options: {
      sizes: [1000],
      workers: [4],
      bestWorkers: undefined,
      repeat: 3,
      workloads: ["w2"],
      churnRates: [],
      churnSeconds: 1,
      resyncSeconds: 1,
      idleSeconds: 1,
    },
    peers: [],
    sizes: [{ n: 1000, limit: undefined, runs }],
    seconds: 1,
  };
}

test("median of odd and even counts, ignoring missing values", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([undefined, 5, Number.NaN]), 5);
  assert.equal(median([]), undefined);
});

test("the targets compare medians: one slow run of three does not decide the verdict", () => {
  // Converge's walls 10, 30 (an outlier), 11 → median 11; controller-runtime's 12, 12, 12.
  const runs = rounds([10, 100, 12, 90], [30, 100, 12, 90], [11, 120, 12, 90]);
  const t = targets(report(runs));
  const time = t.find((x) => x.name.startsWith("W2 time"));
  assert.equal(time?.verdict, "met");
  assert.match(time?.detail ?? "", /11\.00 s vs 12\.00 s \(0\.92×\)/);
  // Peak RSS: median 100 MB against 90 MB is 1.11×, within 1.2×.
  assert.equal(t.find((x) => x.name.startsWith("W2 peak RSS"))?.verdict, "met");

  // The same runs with Converge's outlier twice: the median moves and the verdict with it.
  const slower = runs.map((r) => (r.peer === "converge" && r.round === 3 ? run("converge", 3, 31, 100) : r));
  assert.equal(targets(report(slower)).find((x) => x.name.startsWith("W2 time"))?.verdict, "not met");
});

test("the report lists every run and one ratio row per peer and concurrency", () => {
  const runs = rounds([10, 100, 20, 100], [10, 100, 20, 100]);
  const text = markdownReport(report(runs), {}).join("\n");
  assert.match(text, /\| converge ×4 #1 /);
  assert.match(text, /\| controller-runtime ×4 #2 /);
  const ratioRows = text.split("\n").filter((l) => l.startsWith("| Converge / controller-runtime ×4"));
  assert.equal(ratioRows.length, 1);
  assert.match(ratioRows[0] ?? "", /\| 0\.50× /);
  assert.match(text, /ratio of medians/);
});
