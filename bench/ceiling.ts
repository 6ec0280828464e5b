/**
 * Bounded load loops, and the raw ceiling: the same writes the operator makes, issued by a plain loop through the
 * same Client with no cache, no queue and no watch, which is the most any operator could reach.
 */
import type { Client } from "../src/client/index.ts";
import { setControllerReference } from "../src/controller/index.ts";
import { corev1 } from "../src/types/index.ts";
import { Bench } from "./crd.ts";

export interface LoopOptions {
  /** Requests in flight at most. */
  concurrency: number;
  /** The loop fails when it has not finished by then. */
  timeoutMs: number;
  /** Names the loop in progress lines and errors. */
  label: string;
  /** Progress lines (every `progressMs`). */
  log: (line: string) => void;
  progressMs?: number;
}

/**
 * Calls `fn(0) ... fn(count - 1)` with at most `concurrency` calls in flight; resolves with the wall time in
 * seconds. Bounded in count and in time: the first error, or the deadline, stops it.
 */
export async function bounded(count: number, fn: (i: number) => Promise<unknown>, opts: LoopOptions): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + opts.timeoutMs;
  let next = 0;
  let done = 0;
  let failed: Error | undefined;
  const progress = setInterval(() => opts.log(`${opts.label}: ${done}/${count}`), opts.progressMs ?? 2_000);
  const worker = async () => {
    while (next < count && !failed) {
      if (Date.now() > deadline) {
        failed = new Error(`${opts.label}: not finished after ${opts.timeoutMs / 1000} s (${done}/${count})`);
        return;
      }
      const i = next++;
      try {
        await fn(i);
        done++;
      } catch (err) {
        failed ??= new Error(`${opts.label}: item ${i} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, count) }, worker));
  } finally {
    clearInterval(progress);
  }
  if (failed) throw failed;
  return (performance.now() - started) / 1000;
}

function configMapFor(owner: Bench, name: string): corev1.ConfigMap {
  const cm: corev1.ConfigMap = {
    metadata: { name, namespace: owner.metadata?.namespace },
    data: { value: owner.spec.value },
  };
  return setControllerReference(owner, cm, Bench);
}

const nameOf = (b: Bench) => b.metadata?.name ?? "";

/**
 * The ceilings run on `owners`: Bench objects as the apiserver returned them (uid, generation and resourceVersion
 * set) whose status has not been written yet.
 *
 * 1 write per object: create ConfigMap `<name>` with the data and a controller reference to its Bench.
 */
export function rawOneWrite(client: Client, owners: readonly Bench[], opts: Omit<LoopOptions, "label">) {
  return bounded(
    owners.length,
    (i) => client.create(corev1.ConfigMap, configMapFor(owners[i] as Bench, nameOf(owners[i] as Bench))),
    { ...opts, label: "raw 1-write" },
  );
}

/**
 * 2 writes per object, like the operator: create ConfigMap `<name>-2w`, then write `status.observedGeneration` of
 * its Bench through the status subresource (a real change: nothing wrote these statuses before).
 */
export function rawTwoWrite(client: Client, owners: readonly Bench[], opts: Omit<LoopOptions, "label">) {
  return bounded(
    owners.length,
    async (i) => {
      const owner = owners[i] as Bench;
      await client.create(corev1.ConfigMap, configMapFor(owner, `${nameOf(owner)}-2w`));
      await client.updateStatus(Bench, { ...owner, status: { observedGeneration: owner.metadata?.generation ?? 0 } });
    },
    { ...opts, label: "raw 2-write" },
  );
}
