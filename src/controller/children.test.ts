import assert from "node:assert/strict";
import { test } from "node:test";
import { appsv1, batchv1, corev1 } from "../types/index.ts";
import type { KubeObject } from "../types/resource.ts";
import { isSubset } from "./apply.ts";
import { type ChildSpec, child, dependencyOrder } from "./children.ts";
import { builtinReadiness, readiness } from "./readiness.ts";

/** Objects with a status, as the checks receive them. */
const o = (x: object) => x as KubeObject;

const id = (c: ChildSpec) => c.options.id ?? "";

test("children are ordered after their dependencies; unknown ids, duplicates and cycles are refused", () => {
  const a = child(corev1.ConfigMap, { metadata: { name: "a" } }, { id: "a", dependsOn: ["c"] });
  const b = child(corev1.ConfigMap, { metadata: { name: "b" } }, { id: "b" });
  const c = child(corev1.ConfigMap, { metadata: { name: "c" } }, { id: "c", dependsOn: ["b"] });
  assert.deepEqual(dependencyOrder([a, b, c], id).map(id), ["b", "c", "a"]);
  assert.throws(() => dependencyOrder([a, b], id), /child "a" depends on "c", which is not among the children/);
  assert.throws(() => dependencyOrder([b, b], id), /two children have the id "b"/);
  const x = child(corev1.ConfigMap, { metadata: { name: "x" } }, { id: "x", dependsOn: ["y"] });
  const y = child(corev1.ConfigMap, { metadata: { name: "y" } }, { id: "y", dependsOn: ["x"] });
  assert.throws(() => dependencyOrder([x, y], id), /cycle: x → y → x/);
});

test("a live object matches a desired one when it holds every desired field, whatever the server added", () => {
  const desired = { spec: { replicas: 1, template: { spec: { containers: [{ name: "a", image: "x" }] } } } };
  const live = {
    metadata: { uid: "u" },
    spec: {
      replicas: 1,
      strategy: { type: "RollingUpdate" },
      template: { spec: { containers: [{ name: "a", image: "x", imagePullPolicy: "IfNotPresent" }] } },
    },
  };
  assert.equal(isSubset(desired, live), true);
  assert.equal(isSubset({ spec: { replicas: 2 } }, live), false);
  assert.equal(isSubset({ spec: { template: { spec: { containers: [] } } } }, live), false, "lists compare whole");
  assert.equal(isSubset({ data: { a: "1" } }, { data: {} }), false);
});

test("built-in readiness of workloads, jobs, claims and anything with a Ready condition", () => {
  const deploy = builtinReadiness(appsv1.Deployment.group, "Deployment");
  const base = { metadata: { generation: 2 }, spec: { replicas: 2 } };
  assert.equal(
    readiness(deploy(o({ ...base, status: { observedGeneration: 1, updatedReplicas: 2, availableReplicas: 2 } })))
      .ready,
    false,
  );
  assert.match(
    readiness(deploy(o({ ...base, status: { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 1 } })))
      .reason ?? "",
    /1\/2 pods available/,
  );
  assert.equal(
    readiness(deploy(o({ ...base, status: { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2 } })))
      .ready,
    true,
  );
  const job = builtinReadiness(batchv1.Job.group, "Job");
  assert.equal(readiness(job(o({ status: { conditions: [{ type: "Complete", status: "True" }] } }))).ready, true);
  assert.equal(readiness(job(o({ status: {} }))).ready, false);
  const pvc = builtinReadiness("", "PersistentVolumeClaim");
  assert.equal(readiness(pvc(o({ status: { phase: "Bound" } }))).ready, true);
  assert.match(readiness(pvc(o({}))).reason ?? "", /Pending/);
  const custom = builtinReadiness("example.com", "Database");
  assert.equal(readiness(custom(o({}))).ready, true, "no Ready condition: ready once it exists");
  assert.equal(
    readiness(custom(o({ status: { conditions: [{ type: "Ready", status: "False", message: "booting" }] } }))).reason,
    "booting",
  );
});
