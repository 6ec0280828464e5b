/**
 * `npm run bench`: the Converge operator against the raw write ceiling, on a fresh minimal control plane per N.
 * Figures and ratios only; nothing here asserts a timing. See bench/README.md.
 */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, platform, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "../src/client/index.ts";
import { ControlPlane } from "../src/cluster/index.ts";
import { controllerOf } from "../src/controller/index.ts";
import { corev1 } from "../src/types/index.ts";
import { bounded, rawOneWrite, rawTwoWrite } from "./ceiling.ts";
import { Bench, installBench, newBench } from "./crd.ts";
import type { OperatorConfig, OperatorMessage } from "./operator.ts";
import { type Cpu, type Machine, machineLines, type RunResult, resultTable } from "./report.ts";

const usage = `Usage: node bench/run.ts [options]   (npm run bench -- [options])

Starts a fresh minimal control plane per N, creates N Bench objects, and measures how long the Converge operator
(in a child process) takes to converge them, against a raw loop making the same writes.

Options:
  --n <list>            object counts, comma-separated (default 1000,10000)
  --quick               N = 1000 only
  --concurrency <n>     the operator's maxConcurrentReconciles and the raw loops' requests in flight (default 16)
  --cpu-prof <dir>      write a V8 CPU profile of the operator process into <dir>
  --help                this text
`;

/** Bench objects are created with this many requests in flight (cold start, W1), like a burst of kubectl applies. */
const createInFlight = 64;
/** Generous bounds: a run that takes longer than this has failed. */
const convergeTimeoutMs = 10 * 60_000;
const loopTimeoutMs = 10 * 60_000;
/**
 * The apiserver's concurrency limits (defaults 400 and 200), raised so that the plane's admission of requests is
 * never what a loop measures; see bench/README.md.
 */
const apiserverArgs = ["--max-requests-inflight=2000", "--max-mutating-requests-inflight=1000"];

/** A pause before each timed phase, so that the previous burst's after-effects (Go GC, etcd) do not spill into it. */
const settle = () => new Promise((r) => setTimeout(r, 1_000));

const log = (line: string) => process.stderr.write(`${line}\n`);
const out = (lines: string[]) => process.stdout.write(`${lines.join("\n")}\n`);

async function main(): Promise<number> {
  const values = readOptions();
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const ns = values.quick ? [1000] : (values.n ?? "1000,10000").split(",").map((v) => positiveInt(v, "--n"));
  const concurrency = positiveInt(values.concurrency, "--concurrency");
  let machineShown = false;
  for (const n of ns) {
    const { result, machine } = await runOnce(n, concurrency, values["cpu-prof"]);
    if (!machineShown) out([...machineLines(machine), ""]);
    machineShown = true;
    out([...resultTable(result), ""]);
  }
  return 0;
}

/** A mistake on the command line: reported without a stack trace. */
class UsageError extends Error {}

function positiveInt(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: expected a positive integer, got "${value}"`);
  return n;
}

async function runOnce(
  n: number,
  concurrency: number,
  cpuProfDir: string | undefined,
): Promise<{ result: RunResult; machine: Machine }> {
  log(`== N = ${n}: starting a minimal control plane`);
  const plane = await ControlPlane.start({ mode: "minimal", name: "bench", apiserverArgs });
  const client = await Client.connect({ kubeconfig: plane.kubeconfigPath, fieldManager: "bench", connections: 64 });
  try {
    const machine = await describeMachine(plane, client);
    await installBench(client, ["bench", "bench-raw"]);

    log(`creating ${n} Bench objects (${createInFlight} in flight)`);
    const createSeconds = await bounded(n, (i) => client.create(Bench, newBench("bench", i)), {
      concurrency: createInFlight,
      timeoutMs: loopTimeoutMs,
      label: "created",
      log,
    });
    log(`created ${n}/${n} in ${createSeconds.toFixed(2)} s`);

    const cpu = cpuReader(plane);
    await settle();
    const operator = await runOperator(
      { kubeconfig: plane.kubeconfigPath, namespace: "bench", n, concurrency },
      cpu,
      cpuProfDir,
    );
    await verify(client, "bench", n);
    log(`verified: ${n}/${n} Benches converged, each with its ConfigMap`);

    // The ceilings' own owners, in a namespace of their own, so that owner references stay within a namespace and
    // every status write is a real change. Created like W1, untimed.
    const owners: Bench[] = new Array(n);
    await bounded(
      n,
      async (i) => {
        owners[i] = await client.create(Bench, newBench("bench-raw", i));
      },
      { concurrency: createInFlight, timeoutMs: loopTimeoutMs, label: "raw owners created", log },
    );
    // A Client like the operator's (default connection pool), used with the operator's concurrency.
    const rawClient = await Client.connect({ kubeconfig: plane.kubeconfigPath, fieldManager: "bench-raw" });
    let ceiling: RunResult["ceiling"];
    try {
      log(`raw ceilings: ${n} objects, ${concurrency} in flight`);
      const loop = { concurrency, timeoutMs: loopTimeoutMs, log };
      await settle();
      const oneWrite = await measured(cpu, () => rawOneWrite(rawClient, owners, loop));
      await settle();
      const twoWrite = await measured(cpu, () => rawTwoWrite(rawClient, owners, loop));
      ceiling = { oneWrite, twoWrite };
    } finally {
      await rawClient.close();
    }
    return {
      machine,
      result: {
        n,
        concurrency,
        cpus: machine.cpus,
        create: { seconds: createSeconds, inFlight: createInFlight },
        operator,
        ceiling,
      },
    };
  } finally {
    await client.close();
    await plane.stop();
    log(`== N = ${n}: control plane stopped`);
  }
}

interface CpuSample {
  apiserver: number;
  etcd: number;
  /** Busy CPU seconds of the whole machine (every CPU, every process). */
  machine: number;
}

/** CPU seconds so far of the plane's components and of the machine, from /proc (zero where it is missing). */
function cpuReader(plane: ControlPlane): () => CpuSample {
  const read = (file: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return "";
    }
  };
  // /proc counts in clock ticks, 100 per second.
  const processSeconds = (pid: number | undefined) => {
    // Fields after "(comm)": state is the 1st, utime the 12th and stime the 13th.
    const stat = read(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100 || 0;
  };
  const machineSeconds = () => {
    // cpu  user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = (read("/proc/stat").split("\n")[0] ?? "")
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100 || 0;
  };
  const pid = (name: string) => plane.state().components.find((c) => c.name === name)?.pid;
  const apiserver = pid("kube-apiserver");
  const etcd = pid("etcd");
  return () => ({ apiserver: processSeconds(apiserver), etcd: processSeconds(etcd), machine: machineSeconds() });
}

/** The CPU a phase cost: `client` from the client process, the rest from two samples. */
function cpuBetween(before: CpuSample, after: CpuSample, client: number): Cpu {
  const apiserver = after.apiserver - before.apiserver;
  const etcd = after.etcd - before.etcd;
  const other = Math.max(0, after.machine - before.machine - client - apiserver - etcd);
  return { client, apiserver, etcd, other };
}

/** Times a loop of this process and the CPU it, the plane and everything else spent meanwhile. */
async function measured(sample: () => CpuSample, loop: () => Promise<number>): Promise<{ seconds: number; cpu: Cpu }> {
  const before = sample();
  const self0 = process.cpuUsage();
  const seconds = await loop();
  const self = process.cpuUsage(self0);
  return { seconds, cpu: cpuBetween(before, sample(), (self.user + self.system) / 1e6) };
}

/** Runs bench/operator.ts in a child process until it reports its result; kills it after the timeout. */
function runOperator(
  config: OperatorConfig,
  sample: () => CpuSample,
  cpuProfDir: string | undefined,
): Promise<RunResult["operator"]> {
  log(`starting the operator (maxConcurrentReconciles ${config.concurrency})`);
  const execArgv = ["--expose-gc", ...(cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [])];
  const before = sample();
  const spawned = Date.now();
  const child = fork(join(import.meta.dirname, "operator.ts"), [JSON.stringify(config)], {
    execArgv,
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  child.stdout?.pipe(process.stderr);
  return new Promise((resolve, reject) => {
    let synced: { loaded: number; synced: number } | undefined;
    let converged: { at: number; cpu: Cpu } | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the operator did not converge ${config.n} objects within ${convergeTimeoutMs / 1000} s`));
    }, convergeTimeoutMs);
    child.on("message", (raw) => {
      const m = raw as OperatorMessage;
      if (m.type === "synced") {
        synced = m;
        log(`operator: caches synced ${((m.synced - spawned) / 1000).toFixed(2)} s after spawn`);
      } else if (m.type === "progress") {
        log(`operator: converged ${m.converged}/${config.n} (${m.reconciles} reconciles)`);
      } else if (m.type === "converged") {
        converged = { at: m.at, cpu: cpuBetween(before, sample(), m.cpuSeconds) };
        log(`operator: converged ${config.n}/${config.n} ${((m.at - spawned) / 1000).toFixed(2)} s after spawn`);
      } else if (m.type === "result" && converged) {
        clearTimeout(timer);
        const { loaded, synced: syncedAt } = synced ?? { loaded: spawned, synced: spawned };
        resolve({
          loadSeconds: (loaded - spawned) / 1000,
          syncSeconds: (syncedAt - loaded) / 1000,
          reconcileSeconds: (converged.at - syncedAt) / 1000,
          cpu: converged.cpu,
          atConverged: m.atConverged,
          atIdle: m.atIdle,
          maxRssBytes: m.maxRssBytes,
          loadedRssBytes: m.loadedRssBytes,
          peakHeapUsedBytes: m.peakHeapUsedBytes,
          heapUsedBytes: m.heapUsedBytes,
        });
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      // After a result this settles nothing; before one, the operator failed.
      reject(new Error(`the operator exited (${signal ?? `code ${code}`}) before reporting a result`));
    });
  });
}

/** Reads everything back from the apiserver: every Bench has its status and a ConfigMap it controls. */
async function verify(client: Client, namespace: string, n: number): Promise<void> {
  const [benches, configMaps] = await Promise.all([
    client.listAll(Bench, { namespace }),
    client.listAll(corev1.ConfigMap, { namespace }),
  ]);
  const byName = new Map(configMaps.items.map((c) => [c.metadata?.name, c]));
  const wrong = benches.items.filter((b) => {
    const cm = byName.get(b.metadata?.name);
    return (
      b.status?.observedGeneration !== b.metadata?.generation ||
      cm?.data?.value !== b.spec.value ||
      controllerOf(cm)?.uid !== b.metadata?.uid
    );
  });
  if (benches.items.length !== n || wrong.length > 0) {
    throw new Error(
      `verification failed: ${benches.items.length} Benches (expected ${n}), ${wrong.length} not converged ` +
        `(first: ${wrong[0]?.metadata?.name ?? "-"})`,
    );
  }
}

async function describeMachine(plane: ControlPlane, client: Client): Promise<Machine> {
  const apiserver = await client.transport.json<{ gitVersion?: string }>({ method: "GET", path: "/version" });
  const etcdPort = plane.state().components.find((c) => c.name === "etcd")?.ports.client;
  const etcd = (await fetch(`http://127.0.0.1:${etcdPort}/version`).then((r) => r.json())) as { etcdserver?: string };
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    platform: `${platform()} ${release()}`,
    kubeApiserver: apiserver.gitVersion ?? "unknown",
    etcd: etcd.etcdserver ?? "unknown",
  };
}

function readOptions() {
  try {
    return parseArgs({
      options: {
        n: { type: "string" },
        quick: { type: "boolean", default: false },
        concurrency: { type: "string", default: "16" },
        "cpu-prof": { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) {
      log(`${err.message} (see --help)`);
      process.exit(2);
    }
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
