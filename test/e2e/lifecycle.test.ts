/**
 * The plane's process lifecycle: the CLI's up/status/kubeconfig/down, no orphans when the owner dies, and clear
 * failures (early exit with log lines, port in use, stale or busy data directory) that leave nothing running.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ensureBinaries } from "../../src/cluster/binaries.ts";
import { ControlPlane } from "../../src/cluster/control-plane.ts";
import { freePorts } from "../../src/cluster/ports.ts";
import { readPlaneState } from "../../src/cluster/state.ts";

const cli = join(import.meta.dirname, "../../src/cli/main.ts");

function converge(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Whether `pid` is a live process; a zombie waiting for its reaper (state Z or X) counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
}

async function gone(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(alive);
}

/** Pids of processes whose command line mentions `text` (every component's flags name its data directory). */
async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

test("converge cluster up/status/kubeconfig/down: a minimal plane starts, reports health and stops without leftovers", async () => {
  const env = { CONVERGE_STATE_DIR: await mkdtemp(join(tmpdir(), "converge-state-")) };
  const up = await converge(["cluster", "up", "--name", "cli", "--minimal"], env);
  assert.equal(up.code, 0, up.stderr);
  const kubeconfig = join(env.CONVERGE_STATE_DIR, "planes", "cli", "kubeconfig");
  assert.match(up.stdout, new RegExp(`export KUBECONFIG=${kubeconfig}`));

  const status = await converge(["cluster", "status", "--name", "cli"], env);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /etcd\s+\d+\s+client=\d+,peer=\d+\s+ok/);
  assert.match(status.stdout, /kube-apiserver\s+\d+\s+secure=\d+\s+ok/);
  assert.match(status.stdout, /supervisor\s+\d+\s+-\s+running/);

  const path = await converge(["cluster", "kubeconfig", "--name", "cli"], env);
  assert.equal(path.stdout.trim(), kubeconfig);
  const raw = await converge(["cluster", "kubeconfig", "--name", "cli", "--raw"], env);
  assert.equal(raw.stdout, await readFile(kubeconfig, "utf8"));

  const again = await converge(["cluster", "up", "--name", "cli", "--minimal"], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /control plane "cli" is already running/);

  const state = await readPlaneState(join(env.CONVERGE_STATE_DIR, "planes", "cli"));
  assert.ok(state?.supervisorPid);
  const pids = [state.supervisorPid, ...state.components.map((c) => c.pid)];
  const down = await converge(["cluster", "down", "--name", "cli"], env);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /stopped and its data removed/);
  assert.deepEqual(await gone(pids, 1_000), [], "no process outlives `down`");
  assert.equal(await exists(join(env.CONVERGE_STATE_DIR, "planes", "cli")), false);

  const status2 = await converge(["cluster", "status", "--name", "cli"], env);
  assert.equal(status2.code, 1);
  assert.match(status2.stdout, /no control plane named "cli"/);
});

test("killing the supervisor with SIGKILL takes its components with it; down --keep keeps the data", async () => {
  const env = { CONVERGE_STATE_DIR: await mkdtemp(join(tmpdir(), "converge-state-")) };
  const up = await converge(["cluster", "up", "--name", "orphan", "--minimal"], env);
  assert.equal(up.code, 0, up.stderr);
  const dir = join(env.CONVERGE_STATE_DIR, "planes", "orphan");
  const state = await readPlaneState(dir);
  assert.ok(state?.supervisorPid);
  process.kill(state.supervisorPid, "SIGKILL");
  assert.deepEqual(await gone(state.components.map((c) => c.pid)), [], "components die with their supervisor");

  const status = await converge(["cluster", "status", "--name", "orphan"], env);
  assert.equal(status.code, 1);
  assert.match(status.stdout, /kube-apiserver\s+\d+\s+secure=\d+\s+stopped/);
  const down = await converge(["cluster", "down", "--name", "orphan", "--keep"], env);
  assert.equal(down.code, 0);
  assert.match(down.stdout, /data kept in/);
  assert.ok(await exists(join(dir, "logs", "kube-apiserver.log")));

  // The kept directory is stale now: a new `up` clears it and starts fresh.
  const up2 = await converge(["cluster", "up", "--name", "orphan", "--minimal"], env);
  assert.equal(up2.code, 0, up2.stderr);
  assert.match(up2.stderr, /removing the stale data directory/);
  const down2 = await converge(["cluster", "down", "--name", "orphan"], env);
  assert.equal(down2.code, 0);
});

test("a test process killed with SIGKILL leaves no component running", async () => {
  const script = [
    `import { ControlPlane } from ${JSON.stringify(join(import.meta.dirname, "../../src/cluster/control-plane.ts"))};`,
    `const plane = await ControlPlane.start({ mode: "minimal" });`,
    `console.log(JSON.stringify(plane.state().components.map((c) => c.pid)));`,
    `setInterval(() => {}, 1000);`,
  ].join("\n");
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    child.stdout.setEncoding("utf8").once("data", (line: string) => resolve(JSON.parse(line) as number[]));
    child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
  });
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive));
  child.kill("SIGKILL");
  assert.deepEqual(await gone(pids), []);
});

test("a binary that exits at start-up is reported with its last log lines, and nothing is left running", async () => {
  const dir = await mkdtemp(join(tmpdir(), "converge-bad-"));
  await assert.rejects(
    ControlPlane.start({ mode: "minimal", dir, apiserverArgs: ["--no-such-flag=1"] }),
    (err: Error) => {
      assert.match(err.message, /kube-apiserver exited with code \d+\. Last lines of .*kube-apiserver\.log:/);
      assert.match(err.message, /unknown flag: --no-such-flag/);
      return true;
    },
  );
  // The caller's directory is kept for inspection; etcd, started before the apiserver failed, is gone.
  assert.ok(await exists(join(dir, "logs", "etcd.log")));
  assert.deepEqual(await processesMentioning(dir), []);
});

test("a port in use is refused before anything starts; a busy data directory is refused, a stale one reused", async () => {
  const [port] = await freePorts(1);
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen({ host: "127.0.0.1", port }, r));
  try {
    await assert.rejects(
      ControlPlane.start({ mode: "minimal", apiserverPort: port as number }),
      new RegExp(`port ${port} on 127.0.0.1 for kube-apiserver is already in use`),
    );
    const env = { CONVERGE_STATE_DIR: await mkdtemp(join(tmpdir(), "converge-state-")) };
    const cliUp = await converge(["cluster", "up", "--name", "port", "--minimal", "--port", String(port)], env);
    assert.equal(cliUp.code, 1);
    assert.match(cliUp.stderr, /is already in use/);
  } finally {
    blocker.close();
  }

  const dir = await mkdtemp(join(tmpdir(), "converge-stale-"));
  await writeFile(
    join(dir, "state.json"),
    JSON.stringify({ components: [{ name: "etcd", pid: 2 ** 22 + 1, binary: "/nonexistent/etcd" }] }),
  );
  await writeFile(join(dir, "leftover"), "old data");
  const plane = await ControlPlane.start({ mode: "minimal", dir });
  try {
    assert.equal(await exists(join(dir, "leftover")), false, "a stale directory is cleared");
    await assert.rejects(ControlPlane.start({ mode: "minimal", dir }), /a control plane is already running from/);
    assert.equal((await plane.http.request("GET", "/readyz")).status, 200, "the running plane was not disturbed");
  } finally {
    await plane.stop();
  }
});

test("the readiness deadline starts once the binaries are at hand, however long finding them took", async () => {
  const readyTimeoutMs = 15_000;
  const plane = await ControlPlane.start({
    mode: "minimal",
    readyTimeoutMs,
    // A slow first build, shortened: resolving the binaries outlasts the whole readiness timeout.
    resolveBinaries: async (names, options) => {
      await new Promise((r) => setTimeout(r, readyTimeoutMs + 1_000));
      return ensureBinaries(names, { ...options, build: false });
    },
  });
  try {
    assert.equal((await plane.http.request("GET", "/readyz")).status, 200);
  } finally {
    await plane.stop();
  }
});

test("a failed start keeps its temporary data directory for the logs it names; the next start removes it", async () => {
  const name = `failing-${process.pid}`;
  let kept = "";
  await assert.rejects(
    ControlPlane.start({ mode: "minimal", name, apiserverArgs: ["--no-such-flag=1"] }),
    (err: Error) => {
      const m =
        /the data directory is kept for its logs: (\S+) \(the next start of a "failing-\d+" plane removes it\)/.exec(
          err.message,
        );
      assert.ok(m?.[1], err.message);
      kept = m[1];
      return true;
    },
  );
  assert.match(await readFile(join(kept, "logs", "kube-apiserver.log"), "utf8"), /unknown flag: --no-such-flag/);
  assert.deepEqual(await processesMentioning(kept), []);

  const lines: string[] = [];
  const plane = await ControlPlane.start({ mode: "minimal", name, log: (l) => lines.push(l) });
  try {
    assert.equal(await exists(kept), false, "the kept directory is removed by the next start");
    assert.ok(
      lines.some((l) => l.includes(kept)),
      "and the start says so",
    );
  } finally {
    await plane.stop();
  }
  assert.equal(await exists(plane.dir), false, "a plane that started and stopped leaves nothing behind");
});
