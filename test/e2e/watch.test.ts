import assert from "node:assert/strict";
import { test } from "node:test";
import { testPlane } from "../../src/testing/index.ts";

const plane = await testPlane();

interface WatchEvent {
  type: string;
  object: {
    metadata: { name?: string; resourceVersion: string; annotations?: Record<string, string> };
    data?: Record<string, string>;
  };
}

function collector() {
  const events: WatchEvent[] = [];
  const waiters: Array<() => void> = [];
  return {
    events,
    push(e: unknown) {
      events.push(e as WatchEvent);
      for (const w of waiters.splice(0)) w();
    },
    async until(pred: (e: WatchEvent) => boolean, what: string, timeoutMs = 20_000): Promise<WatchEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; saw ${events.map((e) => e.type).join(",")}`);
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(timer);
            r();
          });
        });
      }
    },
  };
}

test("a watch receives ADDED, MODIFIED and DELETED events and BOOKMARKs", async (t) => {
  const ns = await plane.namespace(t);
  const base = `/api/v1/namespaces/${ns}/configmaps`;
  const start = await plane.http.expectOk<{ metadata: { resourceVersion: string } }>("GET", base);
  const seen = collector();
  // A short server-side timeout makes the apiserver send its periodic bookmark before the watch ends, instead of
  // after about a minute.
  const close = await plane.http.stream(
    `${base}?watch=true&allowWatchBookmarks=true&timeoutSeconds=5&resourceVersion=${start.metadata.resourceVersion}`,
    (e) => seen.push(e),
  );
  t.after(close);

  await plane.http.expectOk("POST", base, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "w" },
    data: { a: "1" },
  });
  await plane.http.expectOk("PATCH", `${base}/w`, { data: { a: "2" } }, "application/merge-patch+json");
  await plane.http.expectOk("DELETE", `${base}/w`);

  const added = await seen.until((e) => e.type === "ADDED" && e.object.metadata.name === "w", "ADDED");
  const modified = await seen.until((e) => e.type === "MODIFIED" && e.object.metadata.name === "w", "MODIFIED");
  const deleted = await seen.until((e) => e.type === "DELETED" && e.object.metadata.name === "w", "DELETED");
  assert.equal(added.object.data?.a, "1");
  assert.equal(modified.object.data?.a, "2");
  assert.ok(seen.events.indexOf(added) < seen.events.indexOf(modified));
  assert.ok(seen.events.indexOf(modified) < seen.events.indexOf(deleted));

  const bookmark = await seen.until((e) => e.type === "BOOKMARK", "BOOKMARK", 15_000);
  assert.ok(bookmark.object.metadata.resourceVersion, "a bookmark carries a resourceVersion to resume from");
  assert.equal(bookmark.object.metadata.name, undefined, "a bookmark carries no object, only its resourceVersion");
});

test("a streaming list ends its initial events with a BOOKMARK marked initial-events-end", async (t) => {
  const ns = await plane.namespace(t);
  const base = `/api/v1/namespaces/${ns}/configmaps`;
  for (const name of ["a", "b"]) {
    await plane.http.expectOk("POST", base, { apiVersion: "v1", kind: "ConfigMap", metadata: { name } });
  }
  const seen = collector();
  const close = await plane.http.stream(
    `${base}?watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan`,
    (e) => seen.push(e),
  );
  t.after(close);
  const end = await seen.until(
    (e) => e.type === "BOOKMARK" && e.object.metadata.annotations?.["k8s.io/initial-events-end"] === "true",
    "initial-events-end BOOKMARK",
  );
  const before = seen.events.slice(0, seen.events.indexOf(end));
  // The namespace also holds kube-root-ca.crt, published by the controller-manager.
  assert.deepEqual(
    before
      .filter((e) => e.type === "ADDED" && e.object.metadata.name !== "kube-root-ca.crt")
      .map((e) => e.object.metadata.name)
      .sort(),
    ["a", "b"],
  );
});
