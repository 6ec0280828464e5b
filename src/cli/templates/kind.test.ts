import assert from "node:assert/strict";
import { test } from "node:test";
import { addToOperator, markers, registration } from "./kind.ts";
import { kindNames } from "./names.ts";

test("registering a kind in an operator module goes above its markers, at their indentation", () => {
  const k = kindNames({ group: "cache.example.com", version: "v1", kind: "Memcached" });
  const lines = registration(k, { api: "./api/memcached.ts", controller: "./controllers/memcached.ts" });
  const source = `import { defineOperator } from "converge-sdk";\n${markers.imports}\n\nexport default defineOperator({\n  definitions: [\n    ${markers.definitions}\n  ],\n  controllers: [\n    ${markers.controllers}\n  ],\n});\n`;
  assert.equal(
    addToOperator(source, lines),
    `import { defineOperator } from "converge-sdk";\n` +
      `import { Memcached } from "./api/memcached.ts";\n` +
      `import { memcachedController } from "./controllers/memcached.ts";\n${markers.imports}\n\n` +
      `export default defineOperator({\n  definitions: [\n    Memcached,\n    ${markers.definitions}\n  ],\n` +
      `  controllers: [\n    memcachedController,\n    ${markers.controllers}\n  ],\n});\n`,
  );
  assert.equal(addToOperator(source.replace(markers.controllers, ""), lines), undefined);
});
