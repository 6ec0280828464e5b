import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { ensureBinaries } from "../../src/cluster/binaries.ts";
import { versions } from "../../src/cluster/versions.ts";
import { testPlane } from "../../src/testing/index.ts";

const plane = await testPlane();

test("kubectl works with the written kubeconfig and shows the fake node Ready", async () => {
  const { kubectl } = await ensureBinaries(["kubectl"]);
  assert.ok(kubectl);
  const { stdout } = await promisify(execFile)(kubectl.path, [
    "--kubeconfig",
    plane.kubeconfig,
    "get",
    "nodes",
    "--no-headers",
  ]);
  const rows = stdout
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+/));
  assert.ok(
    rows.some(([name, status]) => name === "converge-node-0" && status === "Ready"),
    stdout,
  );
  const version = await promisify(execFile)(kubectl.path, ["--kubeconfig", plane.kubeconfig, "version", "-o", "json"]);
  assert.equal(
    JSON.parse(version.stdout).serverVersion.gitVersion,
    `v${versions.kubernetes}`,
    "binaries are version-stamped",
  );
});
