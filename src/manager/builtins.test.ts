import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

test("loading Converge does not load Node's internal undici, which an ES import of node:http would (14 MB of RSS)", async () => {
  const entries = ["../index.ts", "../runtime.ts"].map((e) => new URL(e, import.meta.url).href);
  const script = `for (const e of ${JSON.stringify(entries)}) await import(e);
console.log(JSON.stringify(process.moduleLoadList.filter((m) => /undici|http2/.test(m))));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
  assert.deepEqual(JSON.parse(stdout), []);
});
