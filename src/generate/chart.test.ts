/**
 * The chart's templates (chart/) against the container contract of deploy.ts: the Deployment template, with its
 * Helm actions left out, runs the same container as the raw manifests' Deployment; the values start from the same
 * resources and metrics port. (test/e2e/chart.test.ts renders the chart with helm and applies it.)
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { defineResource, Type } from "../definition/index.ts";
import { defineOperator } from "../operator/operator.ts";
import type * as appsv1 from "../types/generated/apps.v1.ts";
import { validatingWebhook } from "../webhook/admission.ts";
import { chartFiles, chartTemplateDir } from "./chart.ts";
import { defaultResources, deploymentObject, metricsPort } from "./deploy.ts";
import { contextFor, fileHeader } from "./generator.ts";

const Widget = defineResource({
  group: "test.converge.dev",
  kind: "Widget",
  versions: { v1: { spec: Type.Object({}) } },
});

/** With webhooks, so that every optional part of the Deployment is there. */
const op = defineOperator({
  name: "widget-operator",
  definitions: [Widget],
  controllers: [],
  webhooks: [validatingWebhook(Widget, { validate: () => ({ allowed: true }) })],
});

/** A template as the YAML it stands for: lines of Helm actions left out, values of actions made strings. */
const withoutActions = (template: string): unknown =>
  parse(
    template
      .split("\n")
      .filter((l) => !/^\s*\{\{.*\}\}\s*$/.test(l))
      .join("\n")
      .replaceAll(/\{\{[^}]*\}\}/g, "action"),
  );

test("the Deployment template runs the container of the raw Deployment: ports, probes, security, volumes", () => {
  const ctx = contextFor(op);
  const files = chartFiles(ctx, []);
  const template = files.find((f) => f.path.endsWith("templates/deployment.yaml"))?.content ?? "";
  const templated = (withoutActions(template) as appsv1.Deployment).spec?.template;
  const raw = deploymentObject(ctx).spec?.template;
  assert.ok(templated?.spec && raw?.spec);
  assert.deepEqual(templated.metadata?.annotations, raw.metadata?.annotations);
  const { securityContext, terminationGracePeriodSeconds, volumes } = raw.spec;
  assert.deepEqual(
    { securityContext, terminationGracePeriodSeconds, volumes },
    {
      securityContext: templated.spec.securityContext,
      terminationGracePeriodSeconds: templated.spec.terminationGracePeriodSeconds,
      volumes: templated.spec.volumes,
    },
  );
  const [container] = templated.spec.containers;
  const [expected] = raw.spec.containers;
  assert.ok(container && expected);
  for (const key of ["name", "livenessProbe", "readinessProbe", "securityContext", "volumeMounts"] as const) {
    assert.deepEqual(container[key], expected[key], key);
  }
  // The metrics port and the log level are the values'; the rest is the same.
  const fixed = (e: { name: string }) => !["CONVERGE_METRICS_ADDRESS", "CONVERGE_LOG_LEVEL"].includes(e.name);
  assert.deepEqual(container.env?.filter(fixed), expected.env?.filter(fixed));
  assert.deepEqual(
    container.ports?.filter((p) => p.name !== "metrics"),
    expected.ports?.filter((p) => p.name !== "metrics"),
  );
  assert.deepEqual(container.env?.map((e) => e.name).sort(), expected.env?.map((e) => e.name).sort());

  const values = parse(files.find((f) => f.path.endsWith("/values.yaml"))?.content ?? "");
  assert.deepEqual(values.resources, defaultResources);
  assert.equal(values.metrics.port, metricsPort);
});

test("the chart's templates: every file is used, the generated header is the generators' own", async () => {
  const stored = (await readdir(chartTemplateDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => relative(chartTemplateDir, join(e.parentPath, e.name)))
    .sort();
  const generated = chartFiles(contextFor(op), [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "widget-operator" } },
  ])
    .map((f) => f.path.replace("charts/widget-operator/", ""))
    .filter((p) => !p.startsWith("crds/"))
    .sort();
  assert.deepEqual(generated, stored);
  for (const file of ["Chart.yaml", "values.yaml"]) {
    assert.ok((await readFile(join(chartTemplateDir, file), "utf8")).startsWith(fileHeader), file);
  }
});
