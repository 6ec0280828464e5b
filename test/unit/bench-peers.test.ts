/**
 * bench/peers preparePeers: its cache of builds, with stand-ins for `go` and `python3` that record their calls and
 * make the files a real build would, so that the test runs in milliseconds without toolchains or network.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { preparePeers } from "../../bench/peers/index.ts";

const fakeGo = `#!/bin/sh
echo "go $*" >> "$CALLS"
case "$1" in
  env) echo "$FAKE_GO_VERSION" ;;
  build) printf '#!/bin/sh\\n' > "$4"; chmod +x "$4" ;;
esac
`;

const fakePython = `#!/bin/sh
echo "python3 $*" >> "$CALLS"
case "$1" in
  --version) echo "Python 3.11.0" ;;
  -m) mkdir -p "$3/bin"; printf '#!/bin/sh\\necho "venv-python $*" >> "$CALLS"\\n' > "$3/bin/python"; chmod +x "$3/bin/python" ;;
esac
`;

async function stage(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), "bench-peers-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  await mkdir(bin);
  for (const [name, text] of [
    ["go", fakeGo],
    ["python3", fakePython],
  ] as const) {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  }
  const calls = join(dir, "calls.log");
  const env = { PATH: `${bin}:/usr/bin:/bin`, CALLS: calls, FAKE_GO_VERSION: "go1.26.8" };
  const readCalls = async () => (await readFile(calls, "utf8").catch(() => "")).split("\n").filter(Boolean);
  return { cacheDir: join(dir, "cache"), env, readCalls };
}

test("preparePeers builds once, then reuses its cache; a new toolchain rebuilds and prunes the old build", async (t) => {
  const { cacheDir, env, readCalls } = await stage(t);
  const lines: string[] = [];
  const first = await preparePeers((l) => lines.push(l), { cacheDir, env });
  const builds = (await readCalls()).filter((c) => c.startsWith("go build") || c.includes("pip install"));
  assert.equal(builds.length, 3, `two go builds and one pip install, got ${builds.join("; ")}`);
  assert.ok(lines.some((l) => l.includes("building")));

  assert.deepEqual(
    first.peers.map((p) => p.name),
    ["controller-runtime", "kopf", "client-node"],
  );
  const cr = first.peers.find((p) => p.name === "controller-runtime");
  assert.match(cr?.description ?? "", /^controller-runtime v0\.25\.2 \(Go 1\.26\.8, client-go v0\.37\.2\)$/);
  assert.match(first.peers.find((p) => p.name === "kopf")?.description ?? "", /^kopf 1\.45\.2 \(Python 3\.11\.0/);
  for (const p of first.peers) assert.ok(p.settings.length > 0, `${p.name} lists its settings`);
  assert.ok(first.limit.command.startsWith(join(cacheDir, "limit-")));

  const before = (await readCalls()).length;
  lines.length = 0;
  const second = await preparePeers((l) => lines.push(l), { cacheDir, env });
  const again = (await readCalls()).slice(before);
  assert.deepEqual(
    again.filter((c) => c.startsWith("go build") || c.includes("pip") || c.includes("venv")),
    [],
    "nothing is built the second time",
  );
  assert.deepEqual(second, first);
  // The Go and Python peers come from the cache; the client-node peer's bundle is remade (a fraction of a second).
  assert.ok(
    lines.every((l) => l.includes("cached") || l.startsWith("client-node: bundled")),
    lines.join("\n"),
  );

  const upgraded = await preparePeers(() => {}, { cacheDir, env: { ...env, FAKE_GO_VERSION: "go1.27.0" } });
  assert.notEqual(upgraded.limit.command, first.limit.command);
  const entries = (await readdir(cacheDir)).sort();
  assert.equal(entries.filter((e) => e.startsWith("limit-")).length, 1, `old build pruned: ${entries.join(", ")}`);
  assert.equal(entries.filter((e) => e.startsWith("kopf-venv-")).length, 1);
});

test("preparePeers names the missing tool", async (t) => {
  const { cacheDir, env } = await stage(t);
  await assert.rejects(
    preparePeers(() => {}, { cacheDir, env: { ...env, PATH: "/nonexistent" } }),
    /`go`.*not on PATH/,
  );
});
