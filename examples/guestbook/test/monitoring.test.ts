/**
 * The Guestbook operator's monitoring artifacts against the real tools: the chart renders its ServiceMonitor only
 * where monitoring.coreos.com/v1 is served (and the values flag is on), and what it renders, like the raw
 * config/prometheus/monitor.yaml, is accepted by the apiserver (server-side dry run, strict fields) once Prometheus
 * Operator's upstream ServiceMonitor CRD (third_party/crds) is installed.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { apiextensionsv1, Client, type KubeObject } from "converge-sdk";
import { ensureBinaries } from "converge-sdk/cluster";
import { waitForCrds } from "converge-sdk/runtime";
import { testPlane } from "converge-sdk/testing";
import { parse, parseAllDocuments, stringify } from "yaml";

const project = fileURLToPath(new URL("..", import.meta.url));
const chart = join(project, "charts", "guestbook-operator");
const thirdPartyCrds = join(project, "..", "..", "third_party", "crds");

const plane = await testPlane();
const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "guestbook-monitoring-test" });
const home = await mkdtemp(join(tmpdir(), "guestbook-helm-"));
test.after(async () => {
  await client.close();
  await rm(home, { recursive: true, force: true });
});

const { helm, kubectl } = await ensureBinaries(["helm", "kubectl"], {
  log: (line) => process.stderr.write(`# ${line}\n`),
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

const run = (binary: string | undefined, args: string[], input?: string) =>
  new Promise<Ran>((resolve) => {
    const child = execFile(
      binary ?? "false",
      args,
      {
        env: {
          ...process.env,
          KUBECONFIG: plane.kubeconfig,
          // helm's own folders, so that it never reads the user's configuration.
          HELM_CACHE_HOME: join(home, "cache"),
          HELM_CONFIG_HOME: join(home, "config"),
          HELM_DATA_HOME: join(home, "data"),
        },
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });

const helmRun = (...args: string[]) => run(helm?.path, args);

const objects = (text: string): KubeObject[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);

const monitorsIn = (text: string) => objects(text).filter((o) => o.kind === "ServiceMonitor");

/** `kubectl apply --server-side --dry-run=server` with strict field validation: the apiserver's verdict. */
const dryRun = (obj: KubeObject) =>
  run(
    kubectl?.path,
    [
      "apply",
      "--server-side",
      "--dry-run=server",
      "--field-manager=guestbook-monitoring-test",
      "--validate=strict",
      "-f",
      "-",
    ],
    stringify(obj),
  );

// (helm lint has no --api-versions: the rendered ServiceMonitor is checked by the apiserver below.)
test("helm lint --strict passes the chart, with the ServiceMonitor on and off", async () => {
  for (const extra of [[], ["--set", "metrics.serviceMonitor.enabled=false"]]) {
    const r = await helmRun("lint", "--strict", chart, ...extra);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /\[(ERROR|WARNING)\]/);
  }
});

test("helm template renders the ServiceMonitor only where monitoring.coreos.com/v1 is served and it is enabled", async () => {
  const without = await helmRun("template", "gb", chart, "--namespace", "monitoring");
  assert.equal(without.code, 0, without.stderr);
  assert.deepEqual(monitorsIn(without.stdout), [], "no ServiceMonitor without the API");
  assert.ok(
    objects(without.stdout).some((o) => o.kind === "Deployment"),
    "the rest of the chart renders",
  );

  const disabled = await helmRun(
    "template",
    "gb",
    chart,
    "--namespace",
    "monitoring",
    "--api-versions",
    "monitoring.coreos.com/v1",
    "--set",
    "metrics.serviceMonitor.enabled=false",
  );
  assert.equal(disabled.code, 0, disabled.stderr);
  assert.deepEqual(monitorsIn(disabled.stdout), [], "no ServiceMonitor when the values turn it off");

  const withApi = await helmRun(
    "template",
    "gb",
    chart,
    "--namespace",
    "monitoring",
    "--api-versions",
    "monitoring.coreos.com/v1",
    "--set",
    "metrics.serviceMonitor.interval=15s",
    "--set-json",
    'metrics.serviceMonitor.labels={"release":"prometheus"}',
  );
  assert.equal(withApi.code, 0, withApi.stderr);
  const [monitor, ...more] = monitorsIn(withApi.stdout) as Array<
    KubeObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<Record<string, string>> };
    }
  >;
  assert.ok(monitor, "a ServiceMonitor with the API");
  assert.equal(more.length, 0);
  assert.equal(monitor.apiVersion, "monitoring.coreos.com/v1");
  assert.equal(monitor.metadata?.namespace, "monitoring");
  assert.equal(monitor.metadata?.labels?.release, "prometheus");
  assert.deepEqual(monitor.spec.endpoints, [{ port: "metrics", path: "/metrics", scheme: "http", interval: "15s" }]);
  // It selects the release's metrics Service, whose port it names.
  const service = objects(withApi.stdout).find(
    (o) => o.kind === "Service" && o.metadata?.name === monitor.metadata?.name,
  ) as (KubeObject & { spec: { ports: Array<{ name: string }> } }) | undefined;
  assert.ok(service, "the ServiceMonitor is named after the metrics Service");
  for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
    assert.equal(service.metadata?.labels?.[k], v);
  assert.ok(service.spec.ports.some((p) => p.name === "metrics"));
});

test("the rendered and the raw ServiceMonitors are accepted by the apiserver with Prometheus Operator's CRD", async (t) => {
  const crd = parse(
    await readFile(join(thirdPartyCrds, "monitoring.coreos.com_servicemonitors.yaml"), "utf8"),
  ) as apiextensionsv1.CustomResourceDefinition;
  await client.apply(apiextensionsv1.CustomResourceDefinition, crd, {
    force: true,
    fieldManager: "prometheus-operator",
  });
  await waitForCrds(client, ["servicemonitors.monitoring.coreos.com"]);
  const namespace = await plane.namespace(t);

  const rendered = await helmRun(
    "template",
    "gb",
    chart,
    "--namespace",
    namespace,
    "--api-versions",
    "monitoring.coreos.com/v1",
    "--set",
    "metrics.serviceMonitor.interval=30s",
  );
  assert.equal(rendered.code, 0, rendered.stderr);
  const [fromChart] = monitorsIn(rendered.stdout);
  assert.ok(fromChart);
  const accepted = await dryRun(fromChart);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.match(
    accepted.stdout,
    /servicemonitor\.monitoring\.coreos\.com\/gb-guestbook-operator-metrics serverside-applied \(server dry run\)/,
  );

  const [raw] = monitorsIn(await readFile(join(project, "config", "prometheus", "monitor.yaml"), "utf8"));
  assert.ok(raw);
  const rawAccepted = await dryRun({ ...raw, metadata: { ...raw.metadata, namespace } });
  assert.equal(rawAccepted.code, 0, rawAccepted.stderr);

  // The apiserver does reject what the schema forbids (a numeric port), so the acceptance above means something.
  const bad = { ...fromChart, spec: { ...(fromChart as { spec: object }).spec, endpoints: [{ port: 8080 }] } };
  const rejected = await dryRun(bad as KubeObject);
  assert.notEqual(rejected.code, 0);
  assert.match(rejected.stderr, /spec\.endpoints\[0\]\.port/);

  // Installed on a cluster that serves the API, the chart includes it (Helm asks the cluster's discovery).
  const install = await helmRun("install", "gb", chart, "--namespace", namespace, "--dry-run=server");
  assert.equal(install.code, 0, install.stderr);
  assert.equal(monitorsIn(install.stdout).length, 1, install.stdout);
});
