/**
 * Keeps the layering one-way: a module may import only from its own layer and the layers listed for it.
 * A new top-level folder under src/ must be added here, which is the moment to decide where it sits.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { test } from "node:test";

const allowed: Record<string, readonly string[]> = {
  // Certificates, for the local plane's PKI and the webhook server.
  pki: [],
  // The local control plane is its own unit: it depends on no runtime layer.
  cluster: ["pki"],
  // The runtime, bottom to top.
  types: [],
  // Custom resources defined in TypeScript: they produce ResourceTypes and CRDs.
  definition: ["types"],
  client: ["types"],
  cache: ["types", "client"],
  queue: [],
  controller: ["types", "client", "cache", "queue"],
  // Admission and conversion webhooks: HTTPS serving, certificates, and the configurations that point at them.
  webhook: ["types", "definition", "client", "pki"],
  manager: ["types", "client", "cache", "queue", "controller", "webhook"],
  // An operator as a whole (definitions + controllers + deployment), and what generates its artifacts.
  operator: ["types", "definition", "client", "cache", "queue", "controller", "webhook", "manager"],
  generate: [
    "types",
    "definition",
    "client",
    "cache",
    "queue",
    "controller",
    "webhook",
    "manager",
    "operator",
    "cluster",
  ],
  // On top.
  testing: [
    "pki",
    "cluster",
    "types",
    "definition",
    "client",
    "cache",
    "queue",
    "controller",
    "webhook",
    "manager",
    "operator",
  ],
  cli: [
    "cluster",
    "types",
    "definition",
    "client",
    "cache",
    "queue",
    "controller",
    "webhook",
    "manager",
    "operator",
    "generate",
  ],
};

async function* sources(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

test("src layers import only downwards", async () => {
  const root = import.meta.dirname;
  const violations: string[] = [];
  for await (const file of sources(root)) {
    const rel = relative(root, file);
    const layer = rel.includes(sep) ? rel.split(sep)[0] : undefined;
    if (layer === undefined) continue; // src/index.ts and this test re-export or read every layer
    assert.ok(layer in allowed, `src/${layer}/ is not in the layer table of src/layers.test.ts`);
    const text = await readFile(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = relative(root, join(file, "..", m[1] as string));
      const targetLayer = target.split(sep)[0];
      if (targetLayer && targetLayer !== layer && !allowed[layer]?.includes(targetLayer)) {
        violations.push(`src/${rel} imports ${m[1]} (layer ${targetLayer})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
