/**
 * What one write costs the apiserver, by how it is sent: a Bench's status as a JSON merge patch, a JSON patch or a
 * PUT at its resourceVersion; a ConfigMap as a merge patch or a PUT; a Bench's spec as a merge patch. Each variant
 * writes `writes` times over `objects` objects with `concurrency` requests in flight; the kube-apiserver's CPU time
 * (from /proc, so the plane must run on this machine) is divided by the writes, over `rounds` interleaved rounds.
 * Pin the apiserver to one core and this process to another for steady figures:
 *
 *   taskset -apc 0 $(pgrep -n kube-apiserver)
 *   KUBECONFIG=... taskset -c 1 node bench/micro/write-cost.ts --pid $(pgrep -n kube-apiserver) [--rounds 5]
 */
import { parseArgs } from "node:util";
import { Client } from "../../src/client/index.ts";
import { corev1 } from "../../src/types/index.ts";
import { Bench, installBench } from "../crd.ts";
import { processCpuSeconds } from "../proc.ts";

const { values } = parseArgs({
  options: {
    pid: { type: "string" },
    writes: { type: "string", default: "3000" },
    objects: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    only: { type: "string" },
  },
});
const pid = Number(values.pid);
if (!Number.isInteger(pid) || pid <= 0) {
  process.stderr.write(
    "usage: KUBECONFIG=... node bench/micro/write-cost.ts --pid <kube-apiserver pid> [--rounds 3]\n",
  );
  process.exit(2);
}
const writes = Number(values.writes);
const objects = Number(values.objects);
const concurrency = Number(values.concurrency);
const client = await Client.connect({ fieldManager: "write-cost" });
const ns = `wc-${Date.now().toString(36)}`;
await installBench(client, [ns]).catch(async (err: unknown) => {
  // Already installed by an earlier run.
  if (!String(err).includes("already exists")) throw err;
  await client.create(corev1.Namespace, { metadata: { name: ns } });
});

const names = Array.from({ length: objects }, (_, i) => `b-${i}`);
const benches = new Map<string, Bench>();
const configMaps = new Map<string, corev1.ConfigMap>();
for (const name of names) {
  benches.set(name, await client.create(Bench, { metadata: { name, namespace: ns }, spec: { value: "0" } }));
  configMaps.set(
    name,
    await client.create(corev1.ConfigMap, { metadata: { name, namespace: ns }, data: { value: "0" } }),
  );
}

let seq = 0;
type Variant = (name: string) => Promise<unknown>;
/** Keeps the latest Bench of each name, so that PUTs carry the current resourceVersion. */
function keep(p: Promise<Bench>): Promise<void> {
  return p.then((b) => void benches.set(b.metadata?.name ?? "", b));
}
const variants: Record<string, Variant> = {
  "status merge": (name) =>
    keep(
      client.patch(
        Bench,
        { namespace: ns, name },
        "merge",
        { status: { observedGeneration: ++seq } },
        { subresource: "status" },
      ),
    ),
  "status json": (name) =>
    keep(
      client.patch(
        Bench,
        { namespace: ns, name },
        "json",
        [{ op: "add", path: "/status", value: { observedGeneration: ++seq } }],
        {
          subresource: "status",
        },
      ),
    ),
  "status PUT": async (name) => {
    const b = benches.get(name) as Bench;
    b.status = { observedGeneration: ++seq };
    benches.set(name, await client.updateStatus(Bench, b));
  },
  "configmap PUT": async (name) => {
    const cm = configMaps.get(name) as corev1.ConfigMap;
    cm.data = { value: `v${++seq}` };
    configMaps.set(name, await client.update(corev1.ConfigMap, cm));
  },
  "configmap merge": async (name) => {
    configMaps.set(
      name,
      await client.patch(corev1.ConfigMap, { namespace: ns, name }, "merge", { data: { value: `v${++seq}` } }),
    );
  },
  "bench spec merge": (name) =>
    keep(client.patch(Bench, { namespace: ns, name }, "merge", { spec: { value: `v${++seq}` } })),
};

async function run(variant: Variant, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await variant(names[i % names.length] as string);
      }
    }),
  );
}

const only = values.only ? new RegExp(values.only) : undefined;
const results = new Map<string, number[]>();
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [label, variant] of Object.entries(variants)) {
    if (only && !only.test(label)) continue;
    await run(variant, 200);
    const before = processCpuSeconds(pid);
    const t = performance.now();
    await run(variant, writes);
    const ms = ((processCpuSeconds(pid) - before) * 1000) / writes;
    const wall = (performance.now() - t) / writes;
    (results.get(label) ?? results.set(label, []).get(label))?.push(ms);
    process.stdout.write(
      `round ${round} ${label}: apiserver ${ms.toFixed(3)} ms/write, wall ${wall.toFixed(3)} ms/write\n`,
    );
  }
}
for (const [label, v] of results) {
  const sorted = [...v].sort((a, b) => a - b);
  process.stdout.write(`${label.padEnd(28)} median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(3)} ms\n`);
}
await client.close();
