/**
 * The Converge peer of the benchmark: the same job as every other peer (see bench/README.md), written the way a
 * Converge user writes it. A Manager scoped to `$BENCH_NAMESPACE` with one controller, `.for(Bench).owns(ConfigMap)`;
 * each reconcile reads the Bench and its ConfigMap from the cache and writes only what differs: the ConfigMap
 * (create, or update at the resourceVersion read), then `status.observedGeneration` through the status subresource.
 *
 * Environment: KUBECONFIG, BENCH_NAMESPACE, BENCH_WORKERS (maxConcurrentReconciles), BENCH_RESYNC_SECONDS
 * (optional: replay every cached object this often). Warnings and errors go to stderr; stdout stays empty.
 * SIGTERM stops the manager (in-flight reconciles finish) and exits 0.
 */
import { Client } from "../../../src/client/index.ts";
import { controller, controllerOf, createLogger, setControllerReference } from "../../../src/controller/index.ts";
import { Manager } from "../../../src/manager/index.ts";
import { corev1 } from "../../../src/types/index.ts";
import { Bench } from "../../crd.ts";

const env = readEnv();
const log = createLogger({ level: "warn", destination: process.stderr });
const client = await Client.connect({
  kubeconfig: env.kubeconfig,
  fieldManager: "bench-operator",
  userAgent: "bench-operator (converge)",
});
const manager = await Manager.create({
  name: "bench-operator",
  client,
  namespace: env.namespace,
  log,
  // Shutdown is bounded by the harness (SIGTERM, then 5 s): in-flight reconciles are short.
  shutdownTimeoutMs: 4_000,
  ...(env.resyncMs ? { cache: { informerDefaults: { resyncMs: env.resyncMs } } } : {}),
});

const bench = controller("bench")
  .for(Bench)
  .owns(corev1.ConfigMap)
  .withOptions({ maxConcurrentReconciles: env.workers })
  .reconcile(async (obj, ctx) => {
    const value = obj.spec.value;
    const key = { namespace: obj.metadata.namespace, name: obj.metadata.name };
    const cm = ctx.cache.get(corev1.ConfigMap, key);
    if (!cm) {
      const desired: corev1.ConfigMap = { metadata: { ...key }, data: { value } };
      await ctx.client.create(corev1.ConfigMap, setControllerReference(obj, desired, Bench), { signal: ctx.signal });
    } else if (cm.data?.value !== value || controllerOf(cm)?.uid !== obj.metadata.uid) {
      // An update at the resourceVersion read, of a copy (the cached object stays as it is): the apiserver's
      // cheapest write, and the cache reads this operator's own writes, so the version is current unless someone
      // else changed the ConfigMap; then it throws a Conflict and the reconcile runs again on the newer object.
      const updated = setControllerReference(obj, structuredClone(cm), Bench);
      updated.data = { ...updated.data, value };
      await ctx.client.update(corev1.ConfigMap, updated, { signal: ctx.signal });
    }
    await ctx.status((status) => {
      status.observedGeneration = obj.metadata.generation;
    });
    return undefined;
  });
manager.add(bench);

try {
  await manager.start({ handleSignals: true });
  await client.close();
  process.exit(0);
} catch (err) {
  log.error({ err }, "manager failed");
  process.exit(1);
}

function readEnv(): { kubeconfig: string; namespace: string; workers: number; resyncMs: number | undefined } {
  const { KUBECONFIG, BENCH_NAMESPACE, BENCH_WORKERS, BENCH_RESYNC_SECONDS } = process.env;
  const workers = Number(BENCH_WORKERS ?? "1");
  const resync = BENCH_RESYNC_SECONDS ? Number(BENCH_RESYNC_SECONDS) : undefined;
  if (!KUBECONFIG || !BENCH_NAMESPACE || !Number.isInteger(workers) || workers < 1 || Number.isNaN(resync)) {
    process.stderr.write(
      "usage: KUBECONFIG=... BENCH_NAMESPACE=... BENCH_WORKERS=n [BENCH_RESYNC_SECONDS=s] operator.ts\n",
    );
    process.exit(2);
  }
  return { kubeconfig: KUBECONFIG, namespace: BENCH_NAMESPACE, workers, resyncMs: resync ? resync * 1000 : undefined };
}
