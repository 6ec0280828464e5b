import Type, { type TSchema, type TUnsafe } from "typebox";
import type { JSONSchemaProps, ValidationRule } from "../types/generated/apiextensions.v1.ts";
import type { Condition } from "../types/generated/meta.v1.ts";

/**
 * Kubernetes' extensions to a schema written with TypeBox: spread them into a type's options, e.g.
 * `Type.Integer({ minimum: 1, ...cel("self <= 100", "at most 100") })`, or use the ready-made types below.
 */

/** A CEL validation rule with the message the apiserver returns when it fails. */
export function cel(rule: string, message?: string, options: Omit<ValidationRule, "rule" | "message"> = {}) {
  return { "x-kubernetes-validations": [{ rule, ...(message ? { message } : {}), ...options }] as ValidationRule[] };
}

/** Several CEL rules on one field. */
export function celRules(...rules: ValidationRule[]) {
  return { "x-kubernetes-validations": rules };
}

/** A list whose items are merged by key under server-side apply (`x-kubernetes-list-type: map`). */
export function listMap(...keys: string[]) {
  return { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": keys } as const;
}

/** A list of unique scalars (`x-kubernetes-list-type: set`), or one replaced whole (`atomic`). */
export function listType(type: "set" | "atomic") {
  return { "x-kubernetes-list-type": type } as const;
}

/** Either an integer or a string, like a port name or a percentage: `x-kubernetes-int-or-string`. */
export function intOrString(
  options: { description?: string; default?: number | string } = {},
): TSchema & { static: number | string } {
  return { "x-kubernetes-int-or-string": true, ...options } as unknown as TSchema & { static: number | string };
}

/** Any JSON under this field, kept as is (`x-kubernetes-preserve-unknown-fields`). */
export function preserveUnknown(options: { description?: string } = {}): TSchema & { static: Record<string, unknown> } {
  return { type: "object", "x-kubernetes-preserve-unknown-fields": true, ...options } as unknown as TSchema & {
    static: Record<string, unknown>;
  };
}

/** A whole Kubernetes object embedded in this one (apiVersion, kind, metadata validated as such). */
export function embeddedResource(options: { description?: string } = {}): TSchema & {
  static: { apiVersion: string; kind: string; metadata?: Record<string, unknown>; [k: string]: unknown };
} {
  return {
    type: "object",
    "x-kubernetes-embedded-resource": true,
    "x-kubernetes-preserve-unknown-fields": true,
    ...options,
  } as unknown as TSchema & { static: { apiVersion: string; kind: string; [k: string]: unknown } };
}

/** A schema problem the apiserver would reject, with where it is. */
export class SchemaError extends Error {}

const allowedKeys = new Set([
  "type",
  "format",
  "title",
  "description",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "uniqueItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "properties",
  "additionalProperties",
  "nullable",
  "example",
  "externalDocs",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);

/**
 * Turns a TypeBox (JSON Schema) schema into the structural OpenAPI v3 schema a CRD needs, or throws a SchemaError
 * naming `where` and the field path: every node has a type (unless it is int-or-string or preserves unknown
 * fields), unions are allowed only of literals (they become an `enum`), records become `additionalProperties`.
 */
export function toStructural(schema: unknown, where: string, path = ""): JSONSchemaProps {
  const at = path || "(root)";
  if (typeof schema !== "object" || schema === null) throw new SchemaError(`${where}: ${at}: not a schema`);
  const s = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};

  // Unions: of literals of one type, which the apiserver expresses as an enum; with null, which makes the field
  // nullable; or integer-or-string, kept as the `anyOf` an int-or-string field may carry.
  const union = (s.anyOf ?? s.oneOf) as Array<Record<string, unknown>> | undefined;
  const typed = s.type !== undefined || s["x-kubernetes-int-or-string"] === true;
  if (union && !typed) {
    const members = union.filter((u) => u.type !== "null");
    if (members.length < union.length) out.nullable = true;
    if (members.length === 0)
      throw new SchemaError(`${where}: ${at}: null is not a type in a CRD schema; use nullable`);
    if (members.length === 1 && members[0]?.const === undefined)
      Object.assign(out, toStructural(members[0], where, path));
    else {
      const consts = members.map((u) => u.const);
      const types = new Set(members.map((u) => u.type ?? typeof u.const));
      if (consts.some((c) => c === undefined) || types.size !== 1) {
        throw new SchemaError(
          `${where}: ${at}: a union of different shapes is not a structural schema; use one object with optional fields, or a union of literals`,
        );
      }
      out.type =
        [...types][0] === "number"
          ? members.every((u) => Number.isInteger(u.const))
            ? "integer"
            : "number"
          : [...types][0];
      out.enum = consts;
    }
  }
  for (const [key, value] of Object.entries(s)) {
    if (key === "anyOf" || key === "oneOf" || key === "allOf" || key === "not") {
      // On a typed field these are value validations (e.g. "one of these fields is required"), kept as they are.
      if (typed) out[key] = structuredClone(value);
      else if (key === "allOf" || key === "not") {
        throw new SchemaError(`${where}: ${at}: "${key}" cannot be expressed in a structural CRD schema`);
      }
      continue;
    }
    if (key === "$id" || key === "$schema" || key === "static") continue;
    if (key === "const") {
      out.enum = [value];
      continue;
    }
    if (key === "patternProperties") {
      const entries = Object.values(value as Record<string, unknown>);
      if (entries.length !== 1) throw new SchemaError(`${where}: ${at}: a record needs exactly one value schema`);
      out.additionalProperties = toStructural(entries[0], where, `${path}[*]`);
      continue;
    }
    if (key === "properties") {
      if (Object.keys(value as object).length === 0) continue; // `Type.Object({})`: an object with no known fields
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, sub]) => [
          name,
          toStructural(sub, where, path ? `${path}.${name}` : name),
        ]),
      );
      continue;
    }
    if (key === "items") {
      if (Array.isArray(value))
        throw new SchemaError(`${where}: ${at}: tuples are not supported by CRD schemas; use an array of one type`);
      out.items = toStructural(value, where, `${path}[*]`);
      continue;
    }
    if (key === "additionalProperties") {
      out.additionalProperties = typeof value === "object" ? toStructural(value, where, `${path}[*]`) : value;
      continue;
    }
    if (key === "$ref" || key === "if" || key === "then" || key === "else") {
      throw new SchemaError(`${where}: ${at}: "${key}" cannot be expressed in a structural CRD schema`);
    }
    if (key === "required" && Array.isArray(value) && value.length === 0) continue;
    if (!allowedKeys.has(key)) continue; // TypeBox bookkeeping and JSON Schema keywords Kubernetes ignores
    out[key] = value;
  }
  // JSON Schema's numeric exclusive bounds are OpenAPI v3.0's boolean flag beside the bound.
  for (const [exclusive, bound] of [
    ["exclusiveMaximum", "maximum"],
    ["exclusiveMinimum", "minimum"],
  ] as const) {
    const value = out[exclusive];
    if (typeof value !== "number") continue;
    const other = out[bound];
    const inclusiveIsStricter = typeof other === "number" && (bound === "maximum" ? other < value : other > value);
    if (inclusiveIsStricter) delete out[exclusive];
    else {
      out[bound] = value;
      out[exclusive] = true;
    }
  }
  const typeless =
    out["x-kubernetes-int-or-string"] === true ||
    (out["x-kubernetes-preserve-unknown-fields"] === true && out.type === undefined);
  if (out.type === undefined && !typeless) {
    throw new SchemaError(
      `${where}: ${at}: the schema has no type (Type.Any/Unknown are not structural); give it a type, or use preserveUnknown() or intOrString()`,
    );
  }
  if (Array.isArray(out.type)) throw new SchemaError(`${where}: ${at}: a field has one type in a CRD schema`);
  if (out.type === "null") throw new SchemaError(`${where}: ${at}: null is not a type in a CRD schema; use nullable`);
  if (
    out.type === "object" &&
    out.properties &&
    out.additionalProperties !== undefined &&
    out.additionalProperties !== false
  ) {
    throw new SchemaError(`${where}: ${at}: an object has either properties or additionalProperties, not both`);
  }
  if (out.type === "object" && out.additionalProperties === false) delete out.additionalProperties;
  if (out.type === "array" && !out.items) throw new SchemaError(`${where}: ${at}: an array needs an items schema`);
  return out as JSONSchemaProps;
}

/**
 * `status.conditions` as Kubernetes conventions define them (metav1.Condition), merged by `type` under server-side
 * apply. The controller helpers (setCondition, declarative children) write exactly this shape.
 */
export function conditions(options: { description?: string } = {}): TUnsafe<Condition[]> {
  // Static type: exactly metav1.Condition[], so that the framework's condition helpers and a definition's status
  // agree with no cast; the schema (and so the CRD and validation) is the array below.
  return Type.Unsafe<Condition[]>(conditionsSchema(options));
}

function conditionsSchema(options: { description?: string }) {
  return Type.Array(
    Type.Object({
      type: Type.String({ maxLength: 316 }),
      status: Type.Union([Type.Literal("True"), Type.Literal("False"), Type.Literal("Unknown")]),
      reason: Type.String({ maxLength: 1024 }),
      message: Type.String({ maxLength: 32768 }),
      lastTransitionTime: Type.String({ format: "date-time" }),
      observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
    { ...listMap("type"), ...options },
  );
}
