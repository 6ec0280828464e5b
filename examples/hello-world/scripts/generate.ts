/** Writes config/crd/ from the definition in src/api.ts (`npm run generate`; `-- --check` fails when stale). */
import { readFile, writeFile } from "node:fs/promises";
import { stringify } from "yaml";
import { HelloWorld } from "../src/api.ts";

export const crdFile = new URL("../config/crd/apps.example.com_helloworlds.yaml", import.meta.url);
export const crdYaml = (): string =>
  `# Generated from src/api.ts by \`npm run generate\`; do not edit.\n${stringify(HelloWorld.crd())}`;

if (import.meta.main) {
  const current = await readFile(crdFile, "utf8").catch(() => "");
  if (process.argv.includes("--check")) {
    if (current !== crdYaml()) {
      console.error(`${crdFile.pathname} is stale: run npm run generate`);
      process.exit(1);
    }
  } else if (current !== crdYaml()) {
    await writeFile(crdFile, crdYaml());
    console.error(`wrote ${crdFile.pathname}`);
  }
}
