/**
 * Tables (Markdown, so that they read in a terminal and paste into the README) and the report file: a table per
 * workload with every peer's figures, the ratios Converge/peer at the same concurrency, and the issue's targets.
 */
import {
  type BenchReport,
  type ChurnStep,
  type Measures,
  type PeerRun,
  runLabel,
  type SizeResult,
  type W3Result,
} from "./figures.ts";
import { byVerb, writeVerbs } from "./metrics.ts";

const workloadTitles: Record<string, string> = {
  w1: "W1 cold start (N Benches exist; operator start → all converged)",
  w2: "W2 create burst (N Benches created as fast as the plane accepts; first create → all converged)",
  w3: "W3 steady churn (spec.value updates at fixed rates; update sent → ConfigMap shows it)",
  w4: "W4 no-op resync (nothing changes; a fresh operator with a resync period, observed for a window)",
  w5: "W5 watch cut (updates at 50/s; kube-apiserver restarts mid-run)",
};

/** Fills W1's and W2's share of the limit once the limit has run. */
export function fillRatios(size: SizeResult): void {
  const limit = size.limit;
  if (!limit) return;
  for (const run of size.runs) {
    if (run.w1 && !run.w1.failure) run.w1.limitShare = limit.writeSeconds / run.w1.wallSeconds;
    if (run.w2 && !run.w2.failure) run.w2.limitShare = (limit.createSeconds + limit.writeSeconds) / run.w2.wallSeconds;
  }
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const fixed = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits));
const pct = (v: number | undefined) => (v === undefined ? "–" : `${(v * 100).toFixed(0)} %`);

/** `POST 1.00 · PUT 1.00` per object, writes only. */
function writesPerObject(m: Measures): string {
  const verbs = byVerb(m.requests);
  const parts = writeVerbs
    .filter((v) => verbs[v])
    .map((v) => `${v} ${((verbs[v] ?? 0) / Math.max(1, m.objects)).toFixed(2)}`);
  return parts.join(" · ") || "none";
}

/** `GET 3 · LIST 2 · WATCH 2` in total: reads are mostly fixed costs. */
function reads(m: Measures): string {
  const verbs = byVerb(m.requests);
  const parts = Object.keys(verbs)
    .filter((v) => !(writeVerbs as readonly string[]).includes(v))
    .sort()
    .map((v) => `${v} ${verbs[v]}`);
  return parts.join(" · ") || "none";
}

function commonCells(m: Measures | undefined): string[] {
  if (!m) return ["not run", "", "", "", "", "", "", "", "", "", ""];
  return [
    m.failure ? `${fixed(m.wallSeconds)} (failed)` : fixed(m.wallSeconds),
    fixed(m.objectsPerSecond, 0),
    writesPerObject(m),
    reads(m),
    String(m.conflicts),
    fixed(m.objects > 0 ? (m.cpu.operator / m.objects) * 1000 : undefined, 2),
    [m.cpu.operator, m.cpu.apiserver, m.cpu.etcd, m.cpu.harness, m.cpu.steal, m.cpu.other]
      .map((s) => fixed(s, 1))
      .join(" · "),
    mb(m.peakRssBytes),
    m.peakAnonBytes ? mb(m.peakAnonBytes) : "–",
    mb(m.settledRssBytes),
    m.bytesPerObject === undefined ? "–" : fixed(m.bytesPerObject / 1024, 1),
  ];
}

const commonHeader = [
  "wall s",
  "objects/s",
  "writes per object",
  "reads (total)",
  "409s",
  "CPU ms/object",
  "CPU s: operator · apiserver · etcd · harness · steal · other",
  "peak RSS MB",
  "peak private MB",
  "settled RSS MB",
  "KiB/object",
];

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)];
}

function workloadTable(size: SizeResult, w: "w1" | "w2" | "w3" | "w4" | "w5"): string[] {
  const runs = size.runs.filter((r) => r[w] || r.problems.length > 0);
  const extraHeader: string[] = [];
  const extra = (run: PeerRun): string[] => {
    switch (w) {
      case "w1":
        return [pct(run.w1?.limitShare)];
      case "w2":
        return [pct(run.w2?.limitShare), fixed(run.w2?.createSeconds)];
      case "w3":
        return [
          ...(size.runs.find((r) => r.w3)?.w3?.steps ?? []).map((s) => {
            const step = run.w3?.steps.find((x) => x.targetRate === s.targetRate);
            if (!step) return "–";
            return `${fixed(step.p50Ms, 1)} / ${fixed(step.p99Ms, 1)}${step.sustained ? "" : " ✗"}`;
          }),
          run.w3 ? String(run.w3.highestSustained) : "–",
        ];
      case "w4":
        return [
          fixed(run.w4?.writesPerMinute, 1),
          fixed(run.w4?.requestsPerMinute, 1),
          fixed(run.w4?.cpuSecondsPerMinute, 2),
        ];
      case "w5":
        return [
          run.w5 ? String(run.w5.missed) : "–",
          fixed(run.w5?.recoverySeconds),
          fixed(run.w5?.downSeconds, 1),
          run.w5 ? `${run.w5.sent} / ${run.w5.failed}` : "–",
        ];
    }
  };
  if (w === "w1") extraHeader.push("share of limit");
  if (w === "w2") extraHeader.push("share of limit", "creates s");
  if (w === "w3") {
    for (const s of size.runs.find((r) => r.w3)?.w3?.steps ?? []) extraHeader.push(`p50 / p99 ms @${s.targetRate}/s`);
    extraHeader.push("highest rate sustained /s");
  }
  if (w === "w4") extraHeader.push("writes/min", "requests/min", "CPU s/min");
  if (w === "w5") extraHeader.push("missed", "recovery s", "apiserver down s", "sent / refused");
  const rows = runs.map((r) => [runLabel(r), ...commonCells(r[w]), ...extra(r)]);
  return table(["peer ×workers", ...commonHeader, ...extraHeader], rows);
}

/** The median of the values present; undefined when there are none. */
export function median(values: ReadonlyArray<number | undefined>): number | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** The runs of `peer` at `workers` (several with `--repeat`). */
function runsOf(size: SizeResult, peer: string, workers: number): PeerRun[] {
  return size.runs.filter((r) => r.peer === peer && r.workers === workers);
}

/**
 * Converge / peer at the same concurrency: below 1.00 Converge is faster, lighter or cheaper. With repeated runs,
 * each figure is the ratio of the two peers' medians.
 */
function ratioTable(size: SizeResult, w: "w1" | "w2" | "w3" | "w4" | "w5"): string[] {
  const rows: string[][] = [];
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 || !Number.isFinite(a / b) ? "–" : `${(a / b).toFixed(2)}×`;
  const perObject = (m: Measures | undefined) => (m && m.objects > 0 ? m.cpu.operator / m.objects : undefined);
  const specific = (r: PeerRun): number | undefined =>
    w === "w3"
      ? p99At(r.w3, 100)
      : w === "w4"
        ? r.w4?.cpuSecondsPerMinute
        : w === "w5"
          ? r.w5?.recoverySeconds
          : r[w]?.wallSeconds;
  const pairs = new Map<string, { peer: string; workers: number }>();
  for (const r of size.runs) if (r.peer !== "converge" && r[w]) pairs.set(`${r.peer} ×${r.workers}`, r);
  for (const { peer, workers } of pairs.values()) {
    const conv = runsOf(size, "converge", workers).filter((r) => r[w]);
    const other = runsOf(size, peer, workers).filter((r) => r[w]);
    if (!conv.length || !other.length) continue;
    const both = (f: (r: PeerRun) => number | undefined) => ratio(median(conv.map(f)), median(other.map(f)));
    rows.push([
      `Converge / ${peer} ×${workers}`,
      both(specific),
      both((r) => perObject(r[w])),
      both((r) => r[w]?.peakRssBytes),
      both((r) => r[w]?.peakAnonBytes),
      both((r) => r[w]?.settledRssBytes),
    ]);
  }
  const first =
    w === "w3" ? "p99 at 100/s or nearest" : w === "w4" ? "CPU s/min" : w === "w5" ? "recovery time" : "wall time";
  const head = size.runs.some((r) => r.round) ? "ratio of medians (same workers)" : "ratio (same workers)";
  return rows.length ? table([head, first, "CPU per object", "peak RSS", "peak private", "settled RSS"], rows) : [];
}

/**
 * Where W3's latency went at 100 updates/s (or the nearest rate): the apiserver taking the update, the watch of
 * Benches showing it, and the operator turning that event into the ConfigMap's. Empty for results without stages.
 */
function stagesTable(size: SizeResult): string[] {
  const rows: string[][] = [];
  let rate: number | undefined;
  for (const run of size.runs) {
    const step = stepNear(run.w3, 100);
    if (!step?.stages) continue;
    rate ??= step.targetRate;
    const { apiserver, watch, operator } = step.stages;
    rows.push([runLabel(run), apiserver.join(" / "), watch.join(" / "), operator.join(" / ")]);
  }
  if (rows.length === 0) return [];
  return [
    ...table(
      [
        `W3 at ${rate}/s, p50 / p99 ms`,
        "sent → apiserver took it",
        "sent → Bench watch shows it",
        "Bench event → ConfigMap event (the operator)",
      ],
      rows,
    ),
    "",
  ];
}

/** W3's step at `rate`, or at the nearest rate measured. */
function stepNear(w3: W3Result | undefined, rate: number): ChurnStep | undefined {
  return [...(w3?.steps ?? [])].sort((a, b) => Math.abs(a.targetRate - rate) - Math.abs(b.targetRate - rate))[0];
}

/** p99 at `rate`, or at the nearest rate measured. */
function p99At(w3: W3Result | undefined, rate: number): number | undefined {
  return stepNear(w3, rate)?.p99Ms;
}

function sizeSection(size: SizeResult, workloads: readonly string[]): string[] {
  const lines = [`## N = ${size.n}`, ""];
  if (size.limit) {
    const l = size.limit;
    lines.push(
      `The limit (${l.workers} goroutines): ${2 * size.n} writes in ${fixed(l.writeSeconds)} s ` +
        `(${fixed((2 * size.n) / l.writeSeconds, 0)}/s); the load generator's ${size.n} creates took ` +
        `${fixed(l.createSeconds)} s, so W2's limit is ${fixed(l.createSeconds + l.writeSeconds)} s.`,
      "",
    );
  } else {
    lines.push(`The limit: not measured (${size.limitUnavailable ?? "unknown"}).`, "");
  }
  for (const w of ["w1", "w2", "w3", "w4", "w5"] as const) {
    if (!workloads.includes(w)) continue;
    lines.push(`### ${workloadTitles[w]}, N = ${size.n}`, "", ...workloadTable(size, w), "");
    const ratios = ratioTable(size, w);
    if (ratios.length) lines.push(...ratios, "");
    if (w === "w3") lines.push(...stagesTable(size));
  }
  const problems = size.runs.flatMap((r) => r.problems.map((p) => `- ${runLabel(r)}: ${p}`));
  const failures = size.runs.flatMap((r) =>
    (["w1", "w2", "w3", "w4", "w5"] as const).flatMap((w) =>
      r[w]?.failure ? [`- ${runLabel(r)} ${w}: ${r[w]?.failure}`] : [],
    ),
  );
  if (problems.length + failures.length) lines.push("Problems:", "", ...problems, ...failures, "");
  return lines;
}

interface Target {
  name: string;
  verdict: "met" | "not met" | "n/a";
  detail: string;
}

/** The issue's targets, checked against the largest N measured. */
export function targets(report: BenchReport): Target[] {
  const size = report.sizes.at(-1);
  if (!size) return [];
  const out: Target[] = [];
  const check = (name: string, ok: boolean | undefined, detail: string) =>
    out.push({ name, verdict: ok === undefined ? "n/a" : ok ? "met" : "not met", detail });
  const cpuPer = (m: Measures | undefined) => (m?.objects ? m.cpu.operator / m.objects : undefined);
  // Against controller-runtime at the same concurrency; with repeated runs, the medians.
  const against = (
    name: string,
    workers: number,
    f: (r: PeerRun) => number | undefined,
    limit: number,
    show: (v: number) => string,
  ) => {
    const a = median(runsOf(size, "converge", workers).map(f));
    const b = median(runsOf(size, "controller-runtime", workers).map(f));
    const ok = a === undefined || b === undefined || b === 0 ? undefined : a / b <= limit;
    const detail = a === undefined || b === undefined ? "–" : `${show(a)} vs ${show(b)} (${fixed(a / b)}×)`;
    check(`${name} ≤ ${limit.toFixed(1)}× controller-runtime's (×${workers})`, ok, detail);
  };
  const seconds = (v: number) => `${fixed(v)} s`;
  const ms = (v: number) => `${fixed(v * 1000)} ms`;
  const megabytes = (v: number) => `${mb(v)} MB`;
  for (const w of report.options.workers) {
    for (const wl of ["w1", "w2"] as const) {
      if (!report.options.workloads.includes(wl)) continue;
      const W = wl.toUpperCase();
      against(`${W} time`, w, (r) => r[wl]?.wallSeconds, 1.0, seconds);
      against(`${W} CPU per object`, w, (r) => cpuPer(r[wl]), 1.0, ms);
      against(`${W} peak RSS`, w, (r) => r[wl]?.peakRssBytes, 1.2, megabytes);
    }
    if (report.options.workloads.includes("w3")) {
      against(
        "W3 p99 at 100/s",
        w,
        (r) => {
          const p = p99At(r.w3, 100);
          return p === undefined ? undefined : p / 1000;
        },
        1.0,
        ms,
      );
      against("W3 peak RSS", w, (r) => r.w3?.peakRssBytes, 1.2, megabytes);
    }
  }
  const converge = size.runs.filter((r) => r.peer === "converge" && r.w2 && !r.w2.failure);
  const best = converge.sort((x, y) => (x.w2?.wallSeconds ?? 0) - (y.w2?.wallSeconds ?? 0))[0];
  check(
    "W2 at Converge's best setting ≥ 80 % of the limit",
    best?.w2?.limitShare === undefined ? undefined : best.w2.limitShare >= 0.8,
    best ? `×${best.workers}: ${pct(best.w2?.limitShare)}` : "–",
  );
  const kopf = size.runs.filter((r) => r.peer === "kopf" && r.w2 && !r.w2.failure);
  const fastestKopf = kopf.sort((x, y) => (x.w2?.wallSeconds ?? 0) - (y.w2?.wallSeconds ?? 0))[0];
  const kopfRatio = best?.w2 && fastestKopf?.w2 ? fastestKopf.w2.wallSeconds / best.w2.wallSeconds : undefined;
  check(
    "W2 at Converge's best ≥ 3× faster than kopf's best",
    kopfRatio === undefined ? undefined : kopfRatio >= 3,
    `${fixed(kopfRatio)}×`,
  );
  const w1 = size.runs.filter((r) => r.peer === "converge" && r.w1);
  check(
    "W1 with no redundant writes (2 writes per object)",
    w1.length ? w1.every((r) => Math.abs((r.w1?.writesPerObject ?? 0) - 2) < 1e-9) : undefined,
    w1.map((r) => `×${r.workers}: ${fixed(r.w1?.writesPerObject)}`).join(", ") || "–",
  );
  const w3 = size.runs.filter((r) => r.peer === "converge" && r.w3);
  check(
    "W3 p99 ≤ 50 ms at 100 updates/s",
    w3.length ? w3.every((r) => (p99At(r.w3, 100) ?? Number.POSITIVE_INFINITY) <= 50) : undefined,
    w3.map((r) => `×${r.workers}: ${fixed(p99At(r.w3, 100), 1)} ms`).join(", ") || "–",
  );
  const w4 = size.runs.filter((r) => r.peer === "converge" && r.w4);
  check(
    "W4 zero writes",
    w4.length ? w4.every((r) => r.w4?.writesPerMinute === 0) : undefined,
    w4.map((r) => `×${r.workers}: ${fixed(r.w4?.writesPerMinute, 1)}/min`).join(", ") || "–",
  );
  const w5 = size.runs.filter((r) => r.peer === "converge" && r.w5);
  check(
    "W5 zero missed updates",
    w5.length ? w5.every((r) => r.w5?.missed === 0) : undefined,
    w5.map((r) => `×${r.workers}: ${r.w5?.missed}`).join(", ") || "–",
  );
  return out;
}

function targetLines(report: BenchReport): string[] {
  const t = targets(report);
  if (!t.length) return [];
  return [
    `## Targets, at N = ${report.sizes.at(-1)?.n}`,
    "",
    ...table(
      ["target", "verdict", "figures"],
      t.map((x) => [x.name, x.verdict, x.detail]),
    ),
    "",
  ];
}

function headerLines(report: BenchReport): string[] {
  const m = report.machine;
  return [
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB.toFixed(0)} GiB, ${m.platform}`,
    `node ${m.node}; plane: kube-apiserver ${m.kubeApiserver}, etcd ${m.etcd} (minimal mode, etcd data on ${m.etcdDataDir})`,
    `pinning: ${m.pinning}`,
    "",
  ];
}

/** What `npm run bench` prints on stdout. */
export function stdoutTables(report: BenchReport): string[] {
  const lines = headerLines(report);
  for (const p of report.peers.filter((x) => x.unavailable)) lines.push(`${p.name}: not measured (${p.unavailable})`);
  for (const size of report.sizes) lines.push(...sizeSection(size, report.options.workloads));
  lines.push(...targetLines(report));
  return lines;
}

/** The Markdown report: the same tables, the peers and their settings, and the plots. */
export function markdownReport(report: BenchReport, charts: { latency?: string; memory?: string }): string[] {
  const o = report.options;
  const lines = [
    `# Converge benchmark, ${report.date.slice(0, 16).replace("T", " ")} UTC`,
    "",
    ...headerLines(report).map((l) => (l ? `- ${l}` : l)),
    `Sizes ${o.sizes.join(", ")}; workloads ${o.workloads.join(", ")}; workers ${o.workers.join(", ")}` +
      `${o.bestWorkers ? ` (and every peer at Converge's best, ${o.bestWorkers})` : ""}` +
      `${o.repeat && o.repeat > 1 ? `, each run ${o.repeat} times (interleaved; ratios and targets compare medians)` : ""}; W3 rates ${o.churnRates.join(", ")}/s for ` +
      `${o.churnSeconds} s each; W4 resync ${o.resyncSeconds} s, window ${o.idleSeconds} s. ` +
      `${report.seconds.toFixed(0)} s in all. How each figure is measured: bench/README.md.`,
    "",
    "## Peers",
    "",
  ];
  for (const p of report.peers) {
    lines.push(`- **${p.name}**: ${p.unavailable ? `not measured: ${p.unavailable}` : p.description}`);
    for (const s of p.settings) lines.push(`  - ${s}`);
  }
  lines.push("");
  for (const size of report.sizes) lines.push(...sizeSection(size, o.workloads));
  lines.push(...targetLines(report));
  if (charts.memory) lines.push("## Memory over time", "", `![RSS over time](${charts.memory})`, "");
  if (charts.latency) lines.push("## W3 latency over time", "", `![W3 latency](${charts.latency})`, "");
  return lines;
}
