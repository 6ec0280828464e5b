/**
 * What modules written by `converge import` import from `converge-sdk`, here taken from the layers the generate
 * layer may import: the modules in generated/ are imported with `--from ../converge-sdk.ts` instead of the package
 * name (see generated/README.md; monitoring.test.ts checks they are what the importer writes today).
 */
export { defineResource, type Static, Type } from "../definition/index.ts";
export type { ObjectOf } from "../types/resource.ts";
