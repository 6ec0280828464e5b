/** The status writer: a PUT at the resourceVersion read when the object is whole, a merge patch otherwise. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Cache } from "../cache/cache.ts";
import { FakeClient } from "../client/fake/index.ts";
import * as corev1 from "../types/generated/core.v1.ts";
import { type KubeObject, resourceType } from "../types/resource.ts";
import { writeStatus } from "./status.ts";

interface Dial extends KubeObject {
  spec: { size: number };
  status?: { size?: number; note?: string; items?: string[] };
}
const Dial = resourceType<Dial, true>({
  group: "test.converge.dev",
  version: "v1",
  kind: "Dial",
  plural: "dials",
  namespaced: true,
  subresources: { status: true },
});
const namespace = "default";
const key = { namespace, name: "d" };

/** A fake holding one Dial, and the bodies of the writes sent to it. */
function seeded(): { fake: FakeClient; bodies: unknown[] } {
  const dial: Dial = { metadata: { name: "d", namespace }, spec: { size: 1 } };
  const bodies: unknown[] = [];
  const fake = new FakeClient({
    objects: [[Dial, dial]],
    intercept: (action, body) => {
      if (action.verb !== "get") bodies.push(body);
      return undefined;
    },
  });
  return { fake, bodies };
}

const setSize1 = (s: NonNullable<Dial["status"]>) => {
  s.size = 1;
};
const setItems = (s: NonNullable<Dial["status"]>) => {
  s.items = ["mine"];
};
const writes = (fake: FakeClient) => fake.writes().map((a) => `${a.verb}${a.subresource ? `/${a.subresource}` : ""}`);

test("a whole object's status is PUT at the resourceVersion it was read at", async () => {
  const { fake, bodies } = seeded();
  const read = await fake.get(Dial, key);
  fake.resetActions();
  const written = await writeStatus(fake, Dial, read, setSize1, undefined, { whole: true });
  assert.equal(written?.status?.size, 1);
  assert.deepEqual(writes(fake), ["update/status"]);
  const sent = bodies.at(-1) as Dial;
  assert.equal(sent.metadata?.resourceVersion, read.metadata?.resourceVersion);
  assert.deepEqual(sent.status, { size: 1 });
});

test("when the object changed since it was read, the difference is merged into it, and nothing is lost", async () => {
  const { fake } = seeded();
  const read = await fake.get(Dial, key);
  // Another writer: a spec change and a status field of its own.
  await fake.patch(Dial, key, "merge", { spec: { size: 2 } });
  await fake.patch(Dial, key, "merge", { status: { note: "theirs" } }, { subresource: "status" });
  fake.resetActions();
  await writeStatus(fake, Dial, read, setSize1, undefined, { whole: true });
  assert.deepEqual(writes(fake), ["update/status", "patch/status"]);
  const now = await fake.get(Dial, key);
  assert.deepEqual(now.status, { note: "theirs", size: 1 });
  assert.equal(now.spec.size, 2);
});

test("a status with a list is never merged over a change it did not see: the Conflict goes to the caller", async () => {
  const { fake } = seeded();
  const read = await fake.get(Dial, key);
  await fake.patch(Dial, key, "merge", { status: { items: ["theirs"] } }, { subresource: "status" });
  fake.resetActions();
  await assert.rejects(
    writeStatus(fake, Dial, read, setItems, undefined, { whole: true }),
    (err: Error) => err.name === "ConflictError" || /Conflict|modified/.test(err.message),
  );
  assert.deepEqual(writes(fake), ["update/status"], "no second write");
  assert.deepEqual((await fake.get(Dial, key)).status?.items, ["theirs"]);
});

test("an object that may be cut (not whole) gets a merge patch of the difference only", async () => {
  const { fake, bodies } = seeded();
  const read = await fake.get(Dial, key);
  fake.resetActions();
  await writeStatus(fake, Dial, read, setSize1);
  assert.deepEqual(writes(fake), ["patch/status"]);
  assert.deepEqual(bodies.at(-1), { status: { size: 1 } });
});

test("the cache holds whole objects unless a transform or a metadata-only informer cuts them", async () => {
  const fake = new FakeClient();
  const plain = new Cache(fake);
  plain.informer(corev1.ConfigMap);
  assert.equal(plain.holdsWhole(corev1.ConfigMap, { namespace, name: "x" }), true);

  const transformed = new Cache(fake, { informerDefaults: { transform: (o) => o } });
  transformed.informer(corev1.ConfigMap);
  assert.equal(transformed.holdsWhole(corev1.ConfigMap, { namespace, name: "x" }), false);

  const metadataOnly = new Cache(fake);
  metadataOnly.informer(corev1.ConfigMap, { metadataOnly: true });
  assert.equal(metadataOnly.holdsWhole(corev1.ConfigMap, { namespace, name: "x" }), false);
});
