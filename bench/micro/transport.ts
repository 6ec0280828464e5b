/**
 * A micro-benchmark of the client transport alone: `pairs` GET + PUT of one ConfigMap per worker against a running
 * apiserver, at each concurrency, printing the operator-side CPU and wall time per pair. It isolates what the
 * client costs per request from everything else an operator does (the whole-operator figures are bench/run.ts's).
 *
 *   KUBECONFIG=... node bench/micro/transport.ts [--pairs 2000] [--concurrency 1,4,16]
 */
import { parseArgs } from "node:util";
import { Client } from "../../src/client/index.ts";
import { corev1 } from "../../src/types/index.ts";

const { values } = parseArgs({
  options: { pairs: { type: "string", default: "2000" }, concurrency: { type: "string", default: "1,4,16" } },
});
const pairs = Number(values.pairs);
const client = await Client.connect({ fieldManager: "micro" });
const namespace = `micro-${Date.now().toString(36)}`;
await client.create(corev1.Namespace, { metadata: { name: namespace } });

async function worker(name: string, n: number): Promise<void> {
  let obj = await client.create(corev1.ConfigMap, { metadata: { name, namespace }, data: { v: "0" } });
  for (let i = 0; i < n; i++) {
    obj = await client.get(corev1.ConfigMap, { namespace, name });
    obj.data = { v: String(i) };
    obj = await client.update(corev1.ConfigMap, obj);
  }
}

for (const c of values.concurrency.split(",").map(Number)) {
  const per = Math.ceil(pairs / c);
  // A warm-up round so that connections exist and the code is optimised.
  await Promise.all(Array.from({ length: c }, (_, i) => worker(`warm-${c}-${i}`, 50)));
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: c }, (_, i) => worker(`w-${c}-${i}`, per)));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const total = per * c;
  process.stdout.write(
    `concurrency ${c}: ${total} pairs, CPU ${((used.user + used.system) / 1000 / total).toFixed(3)} ms/pair, ` +
      `wall ${(wallMs / total).toFixed(3)} ms/pair\n`,
  );
}
await client.delete(corev1.Namespace, namespace);
await client.close();
