/** The `Bench` custom resource: its TypeScript type, its ResourceType, its CRD, and how the benchmark installs it. */
import type { Client } from "../src/client/index.ts";
import { isNotFound } from "../src/client/index.ts";
import { defineResource, Type } from "../src/definition/index.ts";
import { apiextensionsv1, corev1, type ObjectOf } from "../src/types/index.ts";

/** Defined like any Converge custom resource: the type, the ResourceType and the structural CRD from one expression. */
export const Bench = defineResource({
  group: "bench.converge.dev",
  kind: "Bench",
  plural: "benches",
  versions: {
    v1: {
      spec: Type.Object({ value: Type.String() }),
      status: Type.Object({ observedGeneration: Type.Optional(Type.Integer({ format: "int64" })) }),
    },
  },
});
export type Bench = ObjectOf<typeof Bench>;

export const benchCrd: apiextensionsv1.CustomResourceDefinition = Bench.crd();

/**
 * Installs the CRD and the namespaces, and waits until `benches` are served and past the apiserver's hold on
 * creates of a new kind: it sleeps 2 s in every create that arrives less than 2 s after the CRD became Established
 * (apiextensions-apiserver, pkg/apiserver/customresource_handler.go), which would otherwise land in W1.
 */
export async function installBench(client: Client, namespaces: readonly string[], timeoutMs = 60_000): Promise<void> {
  await client.create(apiextensionsv1.CustomResourceDefinition, benchCrd);
  for (const name of namespaces) await client.create(corev1.Namespace, { metadata: { name } });
  const deadline = Date.now() + timeoutMs;
  const name = benchCrd.metadata?.name ?? "";
  for (;;) {
    const crd = await client.get(apiextensionsv1.CustomResourceDefinition, name);
    const established = crd.status?.conditions?.find((c) => c.type === "Established" && c.status === "True");
    const served = await client.list(Bench, { namespace: namespaces[0] ?? "default", limit: 1 }).then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );
    if (established && served) {
      // lastTransitionTime has whole seconds, rounded down, as the apiserver compares it too.
      const holdEnds = Date.parse(established.lastTransitionTime ?? "") + 2_000;
      if (Number.isFinite(holdEnds) && holdEnds > Date.now()) await sleep(holdEnds - Date.now() + 100);
      return;
    }
    if (Date.now() > deadline) throw new Error(`${name} was not served within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Object names sort in creation order: bench-00000, bench-00001, ... */
export function benchName(i: number): string {
  return `bench-${String(i).padStart(5, "0")}`;
}

export function newBench(namespace: string, i: number): Bench {
  return { metadata: { name: benchName(i), namespace }, spec: { value: `value-${i}` } };
}
