/**
 * The definition layer: custom resources defined once in TypeScript (TypeBox schemas), giving the static type, the
 * structural CRD schema, and client-side validation from the same expression.
 */
export { default as Type, type Static, type TSchema } from "typebox";
export {
  defineResource,
  type FieldError,
  type ObjectOfVersion,
  type ResourceDefinition,
  type ResourceDefinitionInit,
  type VersionDefinition,
} from "./define.ts";
export {
  cel,
  celRules,
  conditions,
  embeddedResource,
  intOrString,
  listMap,
  listType,
  preserveUnknown,
  SchemaError,
  toStructural,
} from "./schema.ts";
