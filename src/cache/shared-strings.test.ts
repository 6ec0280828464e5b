import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { KubeObject } from "../types/resource.ts";
import { SharedStrings } from "./shared-strings.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

// Long values, so that one copy per object is well above the heap's noise.
const namespace = `team-${"n".repeat(200)}`;
const apiVersion = `example.${"g".repeat(200)}.dev/v1`;
const decoded = (i: number): KubeObject =>
  JSON.parse(
    JSON.stringify({
      apiVersion,
      kind: "Example",
      metadata: {
        name: `obj-${i}`,
        namespace,
        uid: `uid-${i}`,
        creationTimestamp: "2026-12-07T18:54:22Z",
        ownerReferences: [{ apiVersion, kind: "Owner", name: `owner-${i}`, uid: `owner-uid-${i}` }],
      },
    }),
  ) as KubeObject;

/** Bytes of heap the objects made by `make` keep alive. */
function retained(make: () => KubeObject[]): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = make();
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  assert.equal(kept.length, 5000);
  return bytes;
}

test("objects decoded one by one share one copy of their namespace and apiVersions, values unchanged", () => {
  const pool = new SharedStrings();
  const sharedObjects = Array.from({ length: 5000 }, (_, i) => pool.shareIn(decoded(i)));
  assert.deepEqual(sharedObjects[7], decoded(7));

  const own = retained(() => Array.from({ length: 5000 }, (_, i) => decoded(i)));
  const shared = retained(() => {
    const p = new SharedStrings();
    return Array.from({ length: 5000 }, (_, i) => p.shareIn(decoded(i)));
  });
  // Three copies of ~210 characters per object (namespace, apiVersion twice) are ~3 MB for 5,000 objects.
  assert.ok(own - shared > 2_500_000, `own copies ${own} B, shared ${shared} B`);
});

test("the pool stays within its bound", () => {
  const pool = new SharedStrings(100);
  for (let i = 0; i < 1000; i++) assert.equal(pool.share(`value-${i}`), `value-${i}`);
  assert.ok(pool.size <= 100);
  assert.equal(pool.share("value-999"), "value-999");
});
