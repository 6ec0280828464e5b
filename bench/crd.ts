/** The `Bench` custom resource: its TypeScript type, its ResourceType, its CRD, and how the benchmark installs it. */
import type { Client } from "../src/client/index.ts";
import { isNotFound } from "../src/client/index.ts";
import { apiextensionsv1, corev1, type KubeObject, resourceType } from "../src/types/index.ts";

export interface Bench extends KubeObject {
  spec: { value: string };
  status?: { observedGeneration?: number };
}

export const Bench = resourceType<Bench>({
  group: "bench.converge.dev",
  version: "v1",
  kind: "Bench",
  plural: "benches",
  namespaced: true,
  subresources: { status: true },
});

/** A structural schema: every field typed, nothing preserved unknown. */
export const benchCrd: apiextensionsv1.CustomResourceDefinition = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${Bench.plural}.${Bench.group}` },
  spec: {
    group: Bench.group,
    names: { kind: Bench.kind, plural: Bench.plural, singular: "bench", listKind: "BenchList" },
    scope: "Namespaced",
    versions: [
      {
        name: Bench.version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            required: ["spec"],
            properties: {
              spec: {
                type: "object",
                required: ["value"],
                properties: { value: { type: "string" } },
              },
              status: {
                type: "object",
                properties: { observedGeneration: { type: "integer", format: "int64" } },
              },
            },
          },
        },
      },
    ],
  },
};

/** Installs the CRD and the namespaces, and waits until `benches` are served (a new CRD is served asynchronously). */
export async function installBench(client: Client, namespaces: readonly string[], timeoutMs = 60_000): Promise<void> {
  await client.create(apiextensionsv1.CustomResourceDefinition, benchCrd);
  for (const name of namespaces) await client.create(corev1.Namespace, { metadata: { name } });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.list(Bench, { namespace: namespaces[0] ?? "default", limit: 1 });
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`${benchCrd.metadata?.name} was not served within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Object names sort in creation order: bench-00000, bench-00001, ... */
export function benchName(i: number): string {
  return `bench-${String(i).padStart(5, "0")}`;
}

export function newBench(namespace: string, i: number): Bench {
  return { metadata: { name: benchName(i), namespace }, spec: { value: `value-${i}` } };
}
