/**
 * What the harness reads about processes from /proc, from the outside and the same way for every peer: CPU seconds
 * and resident memory of a process together with its descendants (a Python or Go operator may run children), and
 * the machine's busy CPU. Where /proc is missing (not Linux) every figure reads 0.
 */
import { readdirSync, readFileSync } from "node:fs";

/** /proc counts CPU in clock ticks; Linux reports USER_HZ = 100 on every architecture it runs on. */
const ticksPerSecond = 100;

function read(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** The fields of /proc/<pid>/stat after "(comm)": [0] state, [1] ppid, ... [11] utime, [12] stime. */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU seconds (user + system) of one process (its children are counted as processes of their own). */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const f = statFields(pid);
  if (!f) return 0;
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond || 0;
}

/** Resident set size of one process in bytes (VmRSS), 0 once it is gone. */
export function processRssBytes(pid: number): number {
  return processMemory(pid).rssBytes;
}

/**
 * Resident memory of one process in bytes: all of it (VmRSS), and the private part of it (RssAnon: heaps, stacks,
 * buffers — without the pages of the executable and libraries mapped from files, which processes of one runtime
 * share). 0 once it is gone.
 */
export function processMemory(pid: number): { rssBytes: number; anonBytes: number } {
  const status = read(`/proc/${pid}/status`);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  const anon = /^RssAnon:\s+(\d+) kB/m.exec(status);
  return { rssBytes: rss ? Number(rss[1]) * 1024 : 0, anonBytes: anon ? Number(anon[1]) * 1024 : 0 };
}

/** `root` and every process below it, from the parent pids in /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [root];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid)) continue;
    const ppid = Number(statFields(pid)?.[1]);
    if (!ppid) continue;
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const tree: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    tree.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * CPU seconds of the whole machine so far (every CPU, every process): `busy` is all but idle and iowait, steal
 * included; `steal` is the part the hypervisor gave to other guests while this machine wanted the CPU (a noisy
 * neighbour, not anything that ran here).
 */
export function machineCpuSeconds(): { busy: number; steal: number } {
  const [user, nice, system, , , irq, softirq, steal] = (read("/proc/stat").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy =
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / ticksPerSecond;
  return { busy: busy || 0, steal: (steal ?? 0) / ticksPerSecond || 0 };
}

/** CPU seconds (user + system) of this process, the harness: load generator, tracker and sampler. */
export function harnessCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** One sample of a process tree: time since the sampler started (s), RSS and its private part (bytes), CPU so far (s). */
export interface TreeSample {
  t: number;
  rssBytes: number;
  anonBytes: number;
  cpuSeconds: number;
}

/**
 * Samples a process tree every `intervalMs`: its summed RSS and CPU. The tree is re-read every few samples (a
 * scan of /proc costs more than reading a few files). CPU of a child that exited between samples is kept through
 * the highest figure seen for it.
 */
export class TreeSampler {
  readonly root: number;
  readonly samples: TreeSample[] = [];
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private pids: number[];
  private readonly cpuByPid = new Map<number, number>();
  private ticks = 0;

  constructor(root: number, intervalMs = 200) {
    this.root = root;
    this.pids = processTree(root);
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Takes a sample now and returns it. */
  sample(): TreeSample {
    if (++this.ticks % 10 === 0) this.pids = processTree(this.root);
    let rssBytes = 0;
    let anonBytes = 0;
    for (const pid of this.pids) {
      const m = processMemory(pid);
      rssBytes += m.rssBytes;
      anonBytes += m.anonBytes;
      const cpu = processCpuSeconds(pid);
      if (cpu > (this.cpuByPid.get(pid) ?? 0)) this.cpuByPid.set(pid, cpu);
    }
    let cpuSeconds = 0;
    for (const v of this.cpuByPid.values()) cpuSeconds += v;
    const s = { t: (performance.now() - this.started) / 1000, rssBytes, anonBytes, cpuSeconds };
    this.samples.push(s);
    return s;
  }

  /** The highest RSS sampled since `fromT` (seconds on this sampler's clock). */
  peakRss(fromT = 0): number {
    let peak = 0;
    for (const s of this.samples) if (s.t >= fromT && s.rssBytes > peak) peak = s.rssBytes;
    return peak;
  }

  /** The highest private memory (RssAnon) sampled since `fromT`. */
  peakAnon(fromT = 0): number {
    let peak = 0;
    for (const s of this.samples) if (s.t >= fromT && s.anonBytes > peak) peak = s.anonBytes;
    return peak;
  }

  /** Seconds on this sampler's clock. */
  now(): number {
    return (performance.now() - this.started) / 1000;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
