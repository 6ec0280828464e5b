/**
 * `npm run bench` at a tiny N with every peer and every workload: the report must be complete (every peer, every
 * workload, every column, the limit, the JSON, the Markdown and the plots). No timing is asserted. The bench starts
 * a plane of its own (W5 restarts its apiserver), so the test run's shared plane is not used.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import type { BenchReport, Measures, PeerRun } from "../../bench/figures.ts";
import { parseRequestTotals, subtract, withCode, writes } from "../../bench/metrics.ts";

const repo = resolve(import.meta.dirname, "..", "..");
const out = await mkdtemp(join(tmpdir(), "converge-bench-test-"));
after(() => rm(out, { recursive: true, force: true }));

const peers = ["converge", "controller-runtime", "kopf", "client-node"];
const workloads = ["w1", "w2", "w3", "w4", "w5"] as const;
const measureKeys: Array<keyof Measures> = [
  "wallSeconds",
  "objects",
  "objectsPerSecond",
  "requests",
  "conflicts",
  "peakRssBytes",
  "settledRssBytes",
  "bytesPerObject",
  "cpu",
  "rss",
];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Without the test runner's variables: a nested process must not report to this one.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NODE_TEST")));
  const child = spawn(process.execPath, [join(repo, "bench", "run.ts"), ...args], { cwd: repo, env });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

test("the operator's requests: the apiserver's counters of the job's resources, minus the harness's own", () => {
  const text = [
    "# TYPE apiserver_request_total counter",
    'apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="POST",version="v1"} 12',
    'apiserver_request_total{code="200",component="apiserver",dry_run="",group="bench.converge.dev",resource="benches",scope="resource",subresource="status",verb="PUT",version="v1"} 10',
    'apiserver_request_total{code="409",component="apiserver",dry_run="",group="bench.converge.dev",resource="benches",scope="resource",subresource="status",verb="PUT",version="v1"} 2',
    'apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 7',
    'apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="",verb="GET",version=""} 3',
  ].join("\n");
  const counts = parseRequestTotals(text);
  assert.deepEqual(counts, {
    "POST configmaps 201": 12,
    "PUT benches/status 200": 10,
    "PUT benches/status 409": 2,
  });
  const harness = { "POST configmaps 201": 2 };
  const operator = subtract(counts, harness);
  assert.equal(writes(operator), 22);
  assert.equal(withCode(operator, 409), 2);
});

test("npm run bench --help and usage errors", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--quick/);
  const bad = await run(["--n", "zero"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--n: expected a positive integer/);
  const unknown = await run(["--peers", "nope"]);
  assert.equal(unknown.code, 2);
});

test("the bench at N = 30: every peer, every workload, every column, and the report files", {
  timeout: 15 * 60_000,
}, async () => {
  const res = await run([
    "--n",
    "30",
    "--workers",
    "1",
    "--best",
    "0",
    "--churn-rates",
    "20",
    "--churn-seconds",
    "2",
    "--resync-seconds",
    "2",
    "--idle-seconds",
    "6",
    "--settle-seconds",
    "1",
    "--out",
    out,
    "--require-peers",
  ]);
  assert.equal(res.code, 0, `bench failed:\n${res.stderr.slice(-4000)}`);

  const files = await readdir(out);
  const json = files.find((f) => f.endsWith(".json"));
  assert.ok(json, `no JSON report in ${files.join(", ")}`);
  const stamp = json.slice(0, -".json".length);
  for (const f of [`${stamp}.md`, `${stamp}-latency.svg`, `${stamp}-memory.svg`])
    assert.ok(files.includes(f), `${f} missing`);
  const report = JSON.parse(await readFile(join(out, json), "utf8")) as BenchReport;

  assert.deepEqual(report.peers.map((p) => p.name).sort(), [...peers].sort());
  for (const p of report.peers) assert.equal(p.unavailable, undefined, `${p.name}: ${p.unavailable}`);
  const size = report.sizes[0];
  assert.ok(size);
  assert.ok(size.limit, `the limit did not run: ${size.limitUnavailable}`);
  for (const peer of peers) {
    const r: PeerRun | undefined = size.runs.find((x) => x.peer === peer && x.workers === 1);
    assert.ok(r, `${peer} ×1 did not run`);
    assert.deepEqual(r.problems, [], `${peer}: ${r.problems.join("; ")}`);
    for (const w of workloads) {
      const m: Measures | undefined = r[w];
      assert.ok(m, `${peer} ×1: ${w} missing`);
      assert.equal(m.failure, undefined, `${peer} ×1 ${w}: ${m.failure}`);
      for (const k of measureKeys) assert.ok(k in m, `${peer} ×1 ${w}: ${k} missing`);
      assert.ok(m.objects > 0, `${peer} ×1 ${w}: no objects`);
      assert.ok(m.peakRssBytes > 0, `${peer} ×1 ${w}: no RSS sampled`);
      assert.ok(
        (m.peakAnonBytes ?? 0) > 0 && (m.peakAnonBytes ?? 0) <= m.peakRssBytes,
        `${peer} ×1 ${w}: private memory`,
      );
    }
    assert.ok(r.w1?.limitShare !== undefined && r.w2?.limitShare !== undefined, `${peer}: no share of the limit`);
    assert.equal(r.w3?.steps.length, 1);
    assert.equal(r.w5?.missed, 0, `${peer}: W5 missed updates`);
  }

  // stdout: a table per workload with a row per peer, and the ratios.
  for (const title of ["W1 cold start", "W2 create burst", "W3 steady churn", "W4 no-op resync", "W5 watch cut"]) {
    assert.ok(res.stdout.includes(title), `stdout lacks the ${title} table`);
  }
  for (const peer of peers) assert.ok(res.stdout.includes(`| ${peer} ×1`), `stdout lacks a row for ${peer}`);
  for (const peer of peers.slice(1))
    assert.ok(res.stdout.includes(`Converge / ${peer} ×1`), `no ratio against ${peer}`);
  const md = await readFile(join(out, `${stamp}.md`), "utf8");
  assert.match(md, /## Peers/);
  assert.match(md, /## Targets/);
  assert.match(await readFile(join(out, `${stamp}-memory.svg`), "utf8"), /^<svg[^>]*>/);
});

test("the bench with --repeat 2: every round runs, in namespaces of its own, and the ratios come from medians", {
  timeout: 10 * 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "converge-bench-repeat-"));
  try {
    const res = await run([
      ...["--n", "10", "--workloads", "w2", "--workers", "1", "--best", "0", "--repeat", "2"],
      ...["--peers", "converge,controller-runtime", "--settle-seconds", "1", "--out", dir, "--require-peers"],
    ]);
    assert.equal(res.code, 0, `bench failed:\n${res.stderr.slice(-4000)}`);
    const json = (await readdir(dir)).find((f) => f.endsWith(".json"));
    assert.ok(json);
    const report = JSON.parse(await readFile(join(dir, json), "utf8")) as BenchReport;
    const runs = report.sizes[0]?.runs ?? [];
    assert.deepEqual(
      runs.map((r) => `${r.peer} #${r.round}`),
      ["converge #1", "controller-runtime #1", "converge #2", "controller-runtime #2"],
    );
    for (const r of runs) {
      assert.deepEqual(r.problems, [], `${r.peer} #${r.round}: ${r.problems.join("; ")}`);
      assert.equal(r.w2?.failure, undefined);
      assert.equal(r.w2?.objects, 10, `${r.peer} #${r.round}: W2 converged ${r.w2?.objects}`);
    }
    assert.match(res.stdout, /ratio of medians/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
