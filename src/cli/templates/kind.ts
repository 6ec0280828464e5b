/**
 * The files of one scaffolded kind, shared by `converge init` (src/api.ts, src/controller.ts) and `converge create
 * api` (src/api/<kind>.ts, src/controllers/<kind>.ts): a definition with a spec and a status with conditions, a
 * controller that declares one ConfigMap child, a unit test on the in-memory FakeClient, and a sample object.
 */
import type { KindNames } from "./names.ts";

/** `src/api.ts` or `src/api/<kind>.ts`: the definition. */
export function definitionSource(k: KindNames): string {
  return `import { conditions, defineResource, type ObjectOf, Type } from "converge-sdk";

/**
 * ${k.group}/${k.version} ${k.kind}: \`spec.message\` becomes the \`data.message\` of a ConfigMap of the same name.
 * This one definition gives the TypeScript type, the CRD (\`npm run generate\` writes it to config/crd/) and
 * client-side validation. Change the spec to what your ${k.kind} needs.
 */
export const ${k.kind} = defineResource({
  group: "${k.group}",
  kind: "${k.kind}",
  description: "${k.kind} copies spec.message into a ConfigMap of the same name.",
  versions: {
    ${k.version}: {
      spec: Type.Object({
        message: Type.String({ minLength: 1, description: "Copied to the ConfigMap's data.message." }),
      }),
      status: Type.Object({
        conditions: Type.Optional(conditions({ description: "Ready, Progressing and Degraded, from the ConfigMap." })),
      }),
      printerColumns: [
        { name: "Message", type: "string", jsonPath: ".spec.message" },
        { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  },
});

/** A ${k.kind} object, as the client and the cache return it. */
export type ${k.kind} = ObjectOf<typeof ${k.kind}>;
`;
}

/** `src/controller.ts` or `src/controllers/<kind>.ts`: the controller; `api` is the import path of the definition. */
export function controllerSource(k: KindNames, api: string): string {
  return `import { child, controller, corev1 } from "converge-sdk";
import { ${k.kind} } from "${api}";

/**
 * ${k.kind} → a ConfigMap named after it with \`data.message = spec.message\`, declared as the ${k.kind}'s child:
 * Converge applies it (writing nothing when it is already right), puts it back when it is edited or deleted,
 * reports Ready/Progressing/Degraded on the ${k.kind}, and deletes it with the ${k.kind}.
 */
export const ${k.controllerFactory} = () =>
  controller("${k.lower}")
    .for(${k.kind})
    .owns(corev1.ConfigMap) // declared: watched and cached from the start, and part of the generated RBAC
    .children((${k.variable}) => [
      child(corev1.ConfigMap, {
        metadata: { name: ${k.variable}.metadata?.name },
        data: { message: ${k.variable}.spec.message },
      }),
    ]);
`;
}

/** A unit test of the controller on the in-memory FakeClient; imports are paths from the test file. */
export function unitTestSource(k: KindNames, imports: { api: string; controller: string }): string {
  return `/**
 * The ${k.kind} controller in a whole Manager on the in-memory FakeClient: no cluster, milliseconds. The fake does
 * not validate schemas or model server-side apply's field ownership; the end-to-end test covers those.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { corev1, Manager, silentLogger } from "converge-sdk";
import { eventually, FakeClient } from "converge-sdk/testing";
import { ${k.kind} } from "${imports.api}";
import { ${k.controllerFactory} } from "${imports.controller}";

test("a ${k.kind} gets a ConfigMap with its message, kept in step and repaired, and deleted with it", async (t) => {
  const fake = new FakeClient();
  const manager = await Manager.create({ name: "${k.lower}-test", client: fake, log: silentLogger });
  manager.add(${k.controllerFactory}());
  const running = manager.start();
  t.after(async () => {
    await manager.stop();
    await running;
  });
  await manager.whenLeading();

  const key = { namespace: "default", name: "greeting" };
  await fake.create(${k.kind}, { metadata: { ...key }, spec: { message: "hello" } });
  const configMap = await eventually("the ConfigMap", () => fake.peek(corev1.ConfigMap, key));
  assert.equal(configMap.data?.message, "hello");
  assert.equal(configMap.metadata?.ownerReferences?.[0]?.kind, "${k.kind}");
  await eventually("the ${k.kind} to be Ready", () =>
    fake.peek(${k.kind}, key)?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );

  await fake.patch(${k.kind}, key, "merge", { spec: { message: "changed" } });
  await eventually("the ConfigMap to follow", () => fake.peek(corev1.ConfigMap, key)?.data?.message === "changed");

  await fake.delete(corev1.ConfigMap, key);
  await eventually("the ConfigMap to be put back", () => fake.peek(corev1.ConfigMap, key));

  await fake.delete(${k.kind}, key);
  await eventually("the ${k.kind} and its ConfigMap to be gone", () => {
    return fake.peek(${k.kind}, key) === undefined && fake.peek(corev1.ConfigMap, key) === undefined;
  });
});
`;
}

/** `config/samples/<kind>.yaml`: an object to try with kubectl. */
export function sampleYaml(k: KindNames): string {
  return `apiVersion: ${k.group}/${k.version}
kind: ${k.kind}
metadata:
  name: ${k.lower}-sample
spec:
  message: Hello from Converge
`;
}

/** Where `converge create api` adds a kind to src/operator.ts: comment lines that \`converge init\` writes. */
export const markers = {
  imports: "// +converge:scaffold:imports",
  definitions: "// +converge:scaffold:definitions",
  controllers: "// +converge:scaffold:controllers",
} as const;

/** What registering a kind in src/operator.ts takes, each line placed above its marker. */
export function registration(
  k: KindNames,
  imports: { api: string; controller: string },
): Record<keyof typeof markers, string[]> {
  return {
    imports: [
      `import { ${k.kind} } from "${imports.api}";`,
      `import { ${k.controllerFactory} } from "${imports.controller}";`,
    ],
    definitions: [`${k.kind},`],
    controllers: [`${k.controllerFactory},`],
  };
}

/**
 * Adds the registration lines above the markers of an operator module (each at its marker's indentation), or
 * returns undefined when one of the markers is missing.
 */
export function addToOperator(source: string, lines: Record<keyof typeof markers, string[]>): string | undefined {
  let out = source;
  for (const key of Object.keys(markers) as Array<keyof typeof markers>) {
    const marker = markers[key];
    const match = new RegExp(`^([ \\t]*)${marker.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}[ \\t]*$`, "m").exec(out);
    if (!match) return undefined;
    const indent = match[1] ?? "";
    const added = lines[key].map((l) => `${indent}${l}\n`).join("");
    out = out.slice(0, match.index) + added + out.slice(match.index);
  }
  return out;
}
