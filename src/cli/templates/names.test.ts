import assert from "node:assert/strict";
import { test } from "node:test";
import { kindNames, kindProblem, projectNameProblem } from "./names.ts";

test("scaffold names: kinds, groups, versions and project names are checked", () => {
  assert.equal(kindProblem({ group: "example.com", version: "v1alpha1", kind: "Sample" }), undefined);
  assert.match(kindProblem({ group: "example.com", version: "v1", kind: "sample" }) ?? "", /UpperCamelCase/);
  assert.match(kindProblem({ group: "example", version: "v1", kind: "Sample" }) ?? "", /at least one dot/);
  assert.match(kindProblem({ group: "Example.com", version: "v1", kind: "Sample" }) ?? "", /lower-case DNS/);
  assert.match(kindProblem({ group: "example.com", version: "1", kind: "Sample" }) ?? "", /version "1"/);
  assert.match(kindProblem({ group: "example.com", version: "v0", kind: "Sample" }) ?? "", /version "v0"/);
  assert.equal(projectNameProblem("memcached-operator"), undefined);
  assert.match(projectNameProblem("Memcached") ?? "", /DNS label/);
  const k = kindNames({ group: "cache.example.com", version: "v1", kind: "MemcachedBackup" });
  assert.deepEqual(
    [k.lower, k.plural, k.crdName, k.controllerFactory, k.variable],
    [
      "memcachedbackup",
      "memcachedbackups",
      "memcachedbackups.cache.example.com",
      "memcachedBackupController",
      "memcachedBackup",
    ],
  );
  assert.equal(kindNames({ group: "a.b", version: "v1", kind: "Class" }).variable, "obj", "not a reserved word");
});
