import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { spawnOperator } from "./operator-process.ts";

const dir = await mkdtemp(join(tmpdir(), "converge-spawn-"));
after(() => rm(dir, { recursive: true, force: true }));

/** Stands in for an operator: says where it runs, serves /readyz after a while, stops cleanly on SIGTERM. */
const fake = join(dir, "fake-operator.mjs");
await writeFile(
  fake,
  `import { createServer } from "node:http";
const [host, port] = process.env.CONVERGE_PROBE_ADDRESS.split(":");
let ready = false;
createServer((req, res) => { res.writeHead(ready ? 200 : 500); res.end(); }).listen(Number(port), host);
setTimeout(() => { ready = true; }, 300);
console.error("running fake against " + process.env.KUBECONFIG + " with " + process.argv.slice(2).join(","));
console.log(JSON.stringify({ event: "started", gone: process.env.GONE ?? null }));
process.once("SIGTERM", () => { console.log(JSON.stringify({ event: "stopping" })); process.exit(0); });
`,
);

test("spawnOperator: output, lines, readiness, a graceful stop with its exit code", async () => {
  process.env.GONE = "here";
  const lines: Array<[string, string]> = [];
  await using op = await spawnOperator(fake, {
    kubeconfig: "/tmp/kubeconfig",
    args: ["a", "b"],
    env: { GONE: undefined },
    onLine: (line, stream) => lines.push([stream, line]),
  });
  delete process.env.GONE;
  await op.waitForOutput("running fake against /tmp/kubeconfig with a,b");
  await op.ready();
  assert.match(op.probeAddress ?? "", /^127\.0\.0\.1:\d+$/);
  assert.equal(op.exit, undefined);
  assert.deepEqual(await op.stop(), { code: 0, signal: null });
  assert.deepEqual(lines, [
    ["stderr", "running fake against /tmp/kubeconfig with a,b"],
    ["stdout", '{"event":"started","gone":null}'],
    ["stdout", '{"event":"stopping"}'],
  ]);
  assert.deepEqual(await op.stop(), { code: 0, signal: null }, "stopping again gives the same exit");
});

test("spawnOperator: waiting fails at once when the process exits, with its stderr", async () => {
  const crash = join(dir, "crash.mjs");
  await writeFile(crash, 'console.error("no kubeconfig here"); process.exit(3);\n');
  await using op = await spawnOperator(crash, { probes: false });
  await assert.rejects(
    op.waitForOutput("never"),
    /crash\.mjs \(exited: code 3\): exited waiting for output "never"\n--- its stderr\nno kubeconfig here$/,
  );
  await assert.rejects(op.ready(), /serves no probes/);
  assert.deepEqual(op.exit, { code: 3, signal: null });
});

test("spawnOperator: await using kills what is still running; timeouts say what was awaited", async () => {
  const hang = join(dir, "hang.mjs");
  await writeFile(hang, "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);\n");
  let op: Awaited<ReturnType<typeof spawnOperator>>;
  {
    await using scoped = await spawnOperator(hang, { probes: false });
    op = scoped;
    await assert.rejects(op.waitForOutput(/ready/, 200), /timed out after 200 ms waiting for output \/ready\//);
  }
  assert.deepEqual(await op.exited, { code: null, signal: "SIGKILL" });
  const stubborn = await spawnOperator(hang, { probes: false });
  await new Promise((r) => setTimeout(r, 200)); // its SIGTERM handler in place
  assert.deepEqual(await stubborn.stop("SIGTERM", 300), { code: null, signal: "SIGKILL" }, "killed after the wait");
});
