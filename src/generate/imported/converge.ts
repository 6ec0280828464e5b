/**
 * What modules written by `converge import` use, here taken from the layers the generate layer may import: the
 * modules beside this one are imported with `{ from: "./converge.ts" }` instead of the package name (see
 * monitoring.test.ts, which checks they are what the importer writes today).
 */
export { defineResource, type Static, Type } from "../../definition/index.ts";
export type { ObjectOf } from "../../types/resource.ts";
