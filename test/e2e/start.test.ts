/**
 * `npm start -- --once` on its own plane: every example's operator in one manager, every sample applied, and the
 * process exits 0 once all of them converged, leaving nothing running.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";

const root = join(import.meta.dirname, "..", "..");

test("npm start -- --once: every example's samples converge, and the demo exits 0", async () => {
  const examples = (await readdir(join(root, "examples"))).sort();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [join(root, "scripts", "start.ts"), "--once", "--timeout", "150"],
      { cwd: root, maxBuffer: 16 << 20, timeout: 240_000 },
      (err, out, errOut) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: out, stderr: errOut }),
    ),
  );
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /examples: /);
  for (const e of examples) assert.match(stdout, new RegExp(`applied ${e}/config/samples: `), e);
  assert.match(stdout, /^RESOURCE\s+OWNS\s+READY\s+LAST RECONCILE$/m);
  assert.match(stdout, /all \d+ samples converged in /);
  assert.match(stdout, /stopped; nothing is left running\./);
});
