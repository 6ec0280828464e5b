/**
 * Summarises V8 CPU profiles (`npm run bench -- --cpu-prof <dir>`) of the Converge peer: self time by area of the
 * code (transport, JSON, cache, queue, metrics, logging, the reconcile context, the user's code, Node's own
 * internals, garbage collection), with the source map of the bundle telling which source file a sample fell in.
 *
 *   node bench/profile.ts <dir or .cpuprofile> [--top 30]
 *
 * Written by hand because no profile tool here knows the project's own areas: the point is a table per area that
 * can be compared before and after a change, and beside a Go pprof of the peer.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { SourceMap } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Areas by source path (first match wins), then by what V8 reports for code that has no source. */
const areas: Array<[string, RegExp]> = [
  [
    "transport (https, TLS, sockets)",
    /src\/client\/(transport|rate-limit|fence)\.ts|node:(https|_http|http|tls|net|_tls|stream|internal\/(http|tls|net|stream|streams|js_stream))/,
  ],
  ["client verbs and errors", /src\/client\/(api|client|errors|paths|selector|patch)\.ts/],
  ["informers and watch decoding", /src\/cache\/informer\.ts/],
  ["cache store, indexes and overlay", /src\/cache\/(cache|store)\.ts/],
  ["work queue", /src\/queue\//],
  [
    "controller: dispatch, context, status, apply",
    /src\/controller\/(controller|builder|context|status|apply|conditions|children|handlers|owners|finalizers|predicates|reconcile|mappers)\.ts/,
  ],
  ["events", /src\/controller\/events\.ts/],
  [
    "logging (pino)",
    /node_modules\/pino|src\/controller\/logger\.ts|sonic-boom|thread-stream|fast-redact|quick-format/,
  ],
  [
    "metrics (prom-client)",
    /node_modules\/prom-client|src\/manager\/metrics\.ts|src\/controller\/metrics\.ts|tdigest|bintrees/,
  ],
  ["manager and leader election", /src\/manager\//],
  ["the operator (user code)", /bench\/peers\/converge/],
  ["typebox, yaml and other libraries", /node_modules\//],
];

function areaOf(source: string, frame: CallFrame): string {
  const name = frame.functionName;
  if (name === "(garbage collector)") return "garbage collection";
  if (name === "(idle)" || name === "(program)" || name === "(root)") return name;
  if (name === "JSON.parse" || (name === "parse" && source === "")) return "JSON.parse";
  if (name === "JSON.stringify" || (name === "stringify" && source === "")) return "JSON.stringify";
  for (const [area, pattern] of areas) if (pattern.test(source)) return area;
  if (source.startsWith("node:") || source === "") return `node internals / builtins`;
  return "other";
}

async function profilesIn(path: string): Promise<string[]> {
  if ((await stat(path)).isFile()) return [path];
  return (await readdir(path)).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(path, f));
}

const sourceMaps = new Map<string, SourceMap | undefined>();
async function sourceMapFor(url: string): Promise<SourceMap | undefined> {
  if (!url.startsWith("file://") || !url.endsWith(".js")) return undefined;
  if (sourceMaps.has(url)) return sourceMaps.get(url);
  let map: SourceMap | undefined;
  try {
    map = new SourceMap(JSON.parse(await readFile(`${new URL(url).pathname}.map`, "utf8")));
  } catch {
    map = undefined;
  }
  sourceMaps.set(url, map);
  return map;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { top: { type: "string", default: "25" } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    process.stderr.write("usage: node bench/profile.ts <dir or .cpuprofile> [--top N]\n");
    process.exit(2);
  }
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byCaller = new Map<string, number>();
  let total = 0;
  let files = 0;
  for (const path of positionals) {
    for (const file of await profilesIn(path)) {
      files++;
      const profile = JSON.parse(await readFile(file, "utf8")) as Profile;
      const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
      const parents = new Map<number, number>();
      for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
      const selfUs = new Map<number, number>();
      profile.samples.forEach((id, i) => {
        selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
      });
      for (const [id, us] of selfUs) {
        const node = nodes.get(id);
        if (!node) continue;
        const frame = node.callFrame;
        const map = await sourceMapFor(frame.url);
        const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
        const source = entry && "originalSource" in entry ? (entry.originalSource ?? "") : frame.url;
        const area = areaOf(source.replace(/^.*?\/(src|bench|node_modules)\//, "$1/"), frame);
        if (area === "(idle)" || area === "(program)" || area === "(root)") continue;
        // Inclusive view: the nearest caller in the project's own areas takes the Node internals it called.
        let owner = area;
        for (
          let up: number | undefined = id;
          up !== undefined &&
          (owner.startsWith("node internals") ||
            owner === "JSON.parse" ||
            owner === "JSON.stringify" ||
            owner === "other");
          up = parents.get(up)
        ) {
          const f = nodes.get(up)?.callFrame;
          if (!f) break;
          const m = await sourceMapFor(f.url);
          const e = m?.findEntry(f.lineNumber, f.columnNumber);
          const src = e && "originalSource" in e ? (e.originalSource ?? "") : f.url;
          const a = areaOf(src.replace(/^.*?\/(src|bench|node_modules)\//, "$1/"), f);
          if (
            !a.startsWith("node internals") &&
            a !== "other" &&
            a !== "JSON.parse" &&
            a !== "JSON.stringify" &&
            a !== "(root)" &&
            a !== "(program)"
          )
            owner = a;
        }
        byCaller.set(owner, (byCaller.get(owner) ?? 0) + us);
        byArea.set(area, (byArea.get(area) ?? 0) + us);
        const where = `${frame.functionName || "(anonymous)"} ${source.replace(/^.*?\/(src|bench|node_modules)\//, "$1/")}:${(entry && "originalLine" in entry ? entry.originalLine : frame.lineNumber) + 1}`;
        byFunction.set(where, (byFunction.get(where) ?? 0) + us);
        total += us;
      }
    }
  }
  const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  process.stdout.write(
    `${files} profile(s); ${(total / 1e6).toFixed(2)} s of CPU on JavaScript and V8 (idle left out)\n\n`,
  );
  process.stdout.write("| area | ms | share |\n|---|---:|---:|\n");
  for (const [area, us] of [...byArea].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`| ${area} | ${ms(us)} | ${pct(us)} |\n`);
  }
  process.stdout.write("\nWith Node's internals counted to the project code that called them:\n\n");
  process.stdout.write("| area | ms | share |\n|---|---:|---:|\n");
  for (const [area, us] of [...byCaller].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`| ${area} | ${ms(us)} | ${pct(us)} |\n`);
  }
  process.stdout.write(`\nTop functions (self time):\n`);
  for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    process.stdout.write(`${ms(us)} ms ${pct(us)}  ${fn}\n`);
  }
}

await main();
