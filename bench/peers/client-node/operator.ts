/**
 * The Bench operator written the way a TypeScript user writes one today with `@kubernetes/client-node`: two
 * informers (`makeInformer`) as the cache, a hand-written work queue, and the generated `CoreV1Api` and
 * `CustomObjectsApi` for the writes.
 *
 * Environment: KUBECONFIG, BENCH_NAMESPACE, BENCH_WORKERS (reconciles in flight) and, optionally,
 * BENCH_RESYNC_SECONDS (every key is queued again at that period; client-node's informers have no resync).
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type Informer,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
} from "@kubernetes/client-node";

const group = "bench.converge.dev";
const version = "v1";
const plural = "benches";

interface Bench extends KubernetesObject {
  spec: { value: string };
  status?: { observedGeneration?: number };
}

/**
 * A work queue with client-go's guarantees: a key waits in the queue at most once, and is never reconciled by two
 * workers at once (a key added while it is being reconciled runs again once that reconcile ends).
 */
class WorkQueue {
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #active = new Set<string>();
  #waiting: (() => void)[] = [];

  add(key: string): void {
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    if (this.#active.has(key)) return; // queued again when its reconcile ends
    this.#queue.push(key);
    this.#waiting.shift()?.();
  }

  /** Waits for a key that no other worker holds. */
  async take(): Promise<string> {
    for (;;) {
      const key = this.#queue.shift();
      if (key !== undefined) {
        this.#queued.delete(key);
        this.#active.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  done(key: string): void {
    this.#active.delete(key);
    if (this.#queued.has(key)) {
      this.#queue.push(key);
      this.#waiting.shift()?.();
    }
  }

  /** Adds the key again after `ms`, for retries. */
  addAfter(key: string, ms: number): void {
    setTimeout(() => this.add(key), ms).unref();
  }
}

function positiveInt(name: string, fallback?: number): number {
  const raw = process.env[name];
  if (!raw && fallback !== undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw ?? ""}"`);
  return n;
}

const namespace: string = process.env.BENCH_NAMESPACE ?? "";
if (!namespace) throw new Error("BENCH_NAMESPACE is not set");
const workers = positiveInt("BENCH_WORKERS", 1);
const resyncSeconds = process.env.BENCH_RESYNC_SECONDS ? positiveInt("BENCH_RESYNC_SECONDS") : undefined;

const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const benches: Informer<Bench> & ObjectCache<Bench> = makeInformer(
  kc,
  `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
  () =>
    custom.listNamespacedCustomObject({ group, version, namespace, plural }) as Promise<KubernetesListObject<Bench>>,
);
const configMaps: Informer<V1ConfigMap> & ObjectCache<V1ConfigMap> = makeInformer(
  kc,
  `/api/v1/namespaces/${namespace}/configmaps`,
  () => core.listNamespacedConfigMap({ namespace }),
);

const queue = new WorkQueue();
benches.on("change", (bench) => queue.add(bench.metadata?.name ?? ""));
configMaps.on("change", (cm) => {
  const owner = cm.metadata?.ownerReferences?.find((r) => r.controller);
  if (owner?.apiVersion === `${group}/${version}` && owner.kind === "Bench") queue.add(owner.name);
});

/** Already done, or being done: the watch brings the newer object and with it another reconcile. */
function isStale(err: unknown): boolean {
  return err instanceof ApiException && (err.code === 409 || err.code === 404);
}

async function reconcile(name: string): Promise<void> {
  const bench = benches.get(name, namespace);
  if (!bench?.metadata?.uid) return;
  const cm = configMaps.get(name, namespace);
  if (!cm) {
    const body: V1ConfigMap = {
      metadata: {
        name,
        namespace,
        ownerReferences: [
          {
            apiVersion: `${group}/${version}`,
            kind: "Bench",
            name,
            uid: bench.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      data: { value: bench.spec.value },
    };
    await core.createNamespacedConfigMap({ namespace, body });
  } else if (cm.data?.value !== bench.spec.value) {
    await core.patchNamespacedConfigMap({ name, namespace, body: { data: { value: bench.spec.value } } }, mergePatch);
  }
  const generation = bench.metadata.generation;
  if (bench.status?.observedGeneration !== generation) {
    await custom.replaceNamespacedCustomObjectStatus({
      group,
      version,
      namespace,
      plural,
      name,
      body: { ...bench, status: { ...bench.status, observedGeneration: generation } },
    });
  }
}

const failures = new Map<string, number>();

async function worker(): Promise<void> {
  for (;;) {
    const key = await queue.take();
    try {
      await reconcile(key);
      failures.delete(key);
    } catch (err) {
      if (!isStale(err)) {
        // Exponential backoff per key, 5 ms doubling up to 1000 s, as client-go's default controller rate limiter.
        const n = failures.get(key) ?? 0;
        failures.set(key, n + 1);
        console.error(`reconcile ${namespace}/${key} failed (retry ${n + 1}):`, err);
        queue.addAfter(key, Math.min(5 * 2 ** n, 1_000_000));
      }
    } finally {
      queue.done(key);
    }
  }
}

/** client-node's informers stop on a watch error; start them again after a pause. */
/**
 * client-node's informers stop on a watch error and leave the restart to their user (its documented pattern):
 * restart with a growing delay until the apiserver answers again. The timer must keep the process alive: while
 * both informers are stopped nothing else does.
 */
function restartOnError<T extends KubernetesObject>(informer: Informer<T>, what: string): void {
  let delayMs = 1_000;
  // One restart loop at a time: a failed start may both reject and emit "error".
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      informer.start().then(
        () => {
          delayMs = 1_000;
        },
        (err: unknown) => {
          console.error(`${what} informer did not restart, retrying in ${delayMs / 1000} s:`, String(err));
          delayMs = Math.min(delayMs * 2, 30_000);
          schedule();
        },
      );
    }, delayMs);
  };
  informer.on("error", (err: unknown) => {
    console.error(`${what} informer failed, restarting in ${delayMs / 1000} s:`, String(err));
    schedule();
  });
}
restartOnError(benches, "Bench");
restartOnError(configMaps, "ConfigMap");

process.once("SIGTERM", () => {
  void Promise.all([benches.stop(), configMaps.stop()]).finally(() => process.exit(0));
});

await Promise.all([benches.start(), configMaps.start()]);
if (resyncSeconds) {
  setInterval(() => {
    for (const bench of benches.list(namespace)) queue.add(bench.metadata?.name ?? "");
  }, resyncSeconds * 1000);
}
for (let i = 0; i < workers; i++) void worker();
