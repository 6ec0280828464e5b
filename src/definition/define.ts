import Type, { type Static, type TObject, type TOptional, type TProperties, type TSchema } from "typebox";
import Value from "typebox/value";
import type {
  CustomResourceColumnDefinition,
  CustomResourceDefinition,
  CustomResourceDefinitionVersion,
  JSONSchemaProps,
  ValidationRule,
} from "../types/generated/apiextensions.v1.ts";
import type { ObjectMeta } from "../types/generated/meta.v1.ts";
import { type ResourceType, resourceType } from "../types/resource.ts";
import { SchemaError, toStructural } from "./schema.ts";

/**
 * One version of a custom resource: its spec and status schemas (TypeBox), columns and subresources. The spec is
 * required unless wrapped in `Type.Optional`.
 */
export interface VersionDefinition<
  Spec extends TSchema = TSchema,
  Status extends TSchema = TSchema,
  Fields extends TProperties = TProperties,
> {
  spec: Spec;
  status?: Status;
  /**
   * Top-level fields besides spec and status (Dapr's Component has `auth` and `scopes`), required unless wrapped in
   * `Type.Optional`. `apiVersion`, `kind` and `metadata` may be given too, to document or constrain them (their
   * types stay string and ObjectMeta).
   */
  fields?: Fields;
  /** Description of the kind in this version (default: the definition's). */
  description?: string;
  /** Served by the apiserver (default true). */
  served?: boolean;
  /** `kubectl get` columns. */
  printerColumns?: CustomResourceColumnDefinition[];
  /** The scale subresource: where replicas live (for `kubectl scale` and autoscalers). */
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  /** The status subresource (default true when a status schema is given). */
  statusSubresource?: boolean;
  /** CEL rules on the whole object (e.g. across spec fields), with their messages. */
  validations?: ValidationRule[];
  deprecated?: boolean | string;
}

export interface ResourceDefinitionInit<V extends Record<string, VersionDefinition>, S extends keyof V & string> {
  group: string;
  kind: string;
  /** Default: the lower-case kind + "s". */
  plural?: string;
  singular?: string;
  scope?: "Namespaced" | "Cluster";
  shortNames?: string[];
  categories?: string[];
  /** Description of the kind (kubectl explain). */
  description?: string;
  versions: V;
  /** The version stored in etcd (required when there are several). */
  storage?: S;
}

/** The fields every object has, whatever its schema says about them. */
type StandardField = "apiVersion" | "kind" | "metadata" | "spec" | "status";

/** The object type of one version of a definition. */
export type ObjectOfVersion<K extends string, V extends VersionDefinition> = {
  apiVersion?: string;
  kind?: K;
  metadata?: ObjectMeta;
  // A version without status has none; `VersionDefinition` itself (any version) may have any.
  status?: "status" extends keyof V ? (V["status"] extends TSchema ? Static<V["status"]> : unknown) : never;
} & (V["spec"] extends TOptional<TSchema> ? { spec?: Static<V["spec"]> } : { spec: Static<V["spec"]> }) &
  (V["fields"] extends TProperties ? Omit<Static<TObject<V["fields"]>>, StandardField> : unknown);

/** A field error from client-side validation, with the path kubectl would show (`spec.replicas`). */
export interface FieldError {
  field: string;
  message: string;
}

export type ResourceDefinition<
  K extends string,
  V extends Record<string, VersionDefinition>,
  S extends keyof V & string,
  N extends boolean = boolean,
> = ResourceType<ObjectOfVersion<K, V[S]>, N> & {
  /** The definition as written. */
  readonly init: ResourceDefinitionInit<V, S>;
  /** Every version's ResourceType, for clients that need one version explicitly. */
  readonly versions: { readonly [Name in keyof V & string]: ResourceType<ObjectOfVersion<K, V[Name]>, N> };
  /** The CustomResourceDefinition to install. Throws a SchemaError for a schema the apiserver would reject. */
  crd(): CustomResourceDefinition;
  /** Client-side validation of an object against a version's schema (default: the storage version). */
  validate(obj: unknown, version?: keyof V & string): FieldError[];
};

/** `/spec/list/0/name` → `spec.list[0].name`, as the apiserver names fields. */
function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "");
}

/**
 * Defines a custom resource in TypeScript: the schemas give the static type and the CRD's structural schema from
 * the same expression. The result is the storage version's ResourceType (use it with the client, the cache and
 * controllers) with `crd()` and `validate()`.
 */
export function defineResource<
  const K extends string,
  const V extends Record<string, VersionDefinition>,
  const S extends keyof V & string = keyof V & string,
  const C extends "Namespaced" | "Cluster" = "Namespaced",
>(
  init: ResourceDefinitionInit<V, S> & { kind: K; scope?: C },
): ResourceDefinition<K, V, S, C extends "Cluster" ? false : true> {
  const names = Object.keys(init.versions);
  const where = `${init.kind} (${init.group})`;
  if (names.length === 0) throw new SchemaError(`${where}: a definition needs at least one version`);
  if (names.length > 1 && !init.storage)
    throw new SchemaError(`${where}: several versions: say which is the storage version`);
  const storage = (init.storage ?? names[0]) as S;
  if (!(storage in init.versions))
    throw new SchemaError(`${where}: storage version "${storage}" is not among the versions`);
  for (const n of names) {
    if (!/^v\d+((alpha|beta)\d+)?$/.test(n))
      throw new SchemaError(`${where}: version "${n}" is not a Kubernetes version name (v1, v1beta1, v2alpha3)`);
  }
  const plural = init.plural ?? `${init.kind.toLowerCase()}s`;
  const namespaced = (init.scope ?? "Namespaced") === "Namespaced";
  const typeOf = (name: string) => {
    const v = init.versions[name] as VersionDefinition;
    return resourceType({
      group: init.group,
      version: name,
      kind: init.kind,
      plural,
      namespaced,
      subresources: { status: v.statusSubresource ?? v.status !== undefined, scale: v.scale !== undefined },
    });
  };
  const versions = Object.fromEntries(names.map((n) => [n, typeOf(n)]));

  const schemaOf = (name: string): JSONSchemaProps => {
    const v = init.versions[name] as VersionDefinition;
    const vWhere = `${where} ${name}`;
    const fields = v.fields ?? {};
    const description = v.description ?? init.description;
    // The standard fields first, then the others in their order; each required unless optional.
    const schemas: Record<string, TSchema> = {
      apiVersion: fields.apiVersion ?? Type.Optional(Type.String()),
      kind: fields.kind ?? Type.Optional(Type.String()),
      metadata: fields.metadata ?? Type.Optional(Type.Object({})),
      spec: v.spec,
      ...(v.status ? { status: Type.Optional(v.status) } : {}),
    };
    for (const [field, schema] of Object.entries(fields)) schemas[field] ??= schema;
    const required = Object.keys(schemas).filter((field) => !Type.IsOptional(schemas[field]));
    return {
      type: "object",
      ...(description ? { description } : {}),
      properties: Object.fromEntries(
        Object.entries(schemas).map(([field, schema]) => [field, toStructural(schema, vWhere, field)]),
      ),
      ...(required.length ? { required } : {}),
      ...(v.validations?.length ? { "x-kubernetes-validations": v.validations } : {}),
    };
  };

  const crd = (): CustomResourceDefinition => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${init.group}` },
    spec: {
      group: init.group,
      scope: init.scope ?? "Namespaced",
      names: {
        kind: init.kind,
        listKind: `${init.kind}List`,
        plural,
        singular: init.singular ?? init.kind.toLowerCase(),
        ...(init.shortNames?.length ? { shortNames: init.shortNames } : {}),
        ...(init.categories?.length ? { categories: init.categories } : {}),
      },
      versions: names.map((n): CustomResourceDefinitionVersion => {
        const v = init.versions[n] as VersionDefinition;
        const statusSub = v.statusSubresource ?? v.status !== undefined;
        return {
          name: n,
          served: v.served ?? true,
          storage: n === storage,
          schema: { openAPIV3Schema: schemaOf(n) },
          ...(statusSub || v.scale
            ? { subresources: { ...(statusSub ? { status: {} } : {}), ...(v.scale ? { scale: v.scale } : {}) } }
            : {}),
          ...(v.printerColumns?.length ? { additionalPrinterColumns: v.printerColumns } : {}),
          ...(v.deprecated
            ? { deprecated: true, ...(typeof v.deprecated === "string" ? { deprecationWarning: v.deprecated } : {}) }
            : {}),
        };
      }),
    },
  });

  const validate = (obj: unknown, version: string = storage): FieldError[] => {
    const v = init.versions[version] as VersionDefinition | undefined;
    if (!v) return [{ field: "apiVersion", message: `unknown version ${version}` }];
    const o = (obj ?? {}) as Record<string, unknown>;
    const checked: Record<string, TSchema> = {
      ...v.fields,
      spec: v.spec,
      ...(v.status ? { status: Type.Optional(v.status) } : {}),
    };
    const errors: FieldError[] = [];
    for (const [field, schema] of Object.entries(checked)) {
      const value = o[field];
      if (value === undefined) {
        if (!Type.IsOptional(schema)) errors.push({ field, message: "Required value" });
        continue;
      }
      for (const e of Value.Errors(schema, value))
        errors.push({ field: fieldPath(`/${field}${e.instancePath}`), message: e.message });
    }
    return errors;
  };

  return Object.freeze({
    ...(versions[storage] as ResourceType),
    init,
    versions,
    crd,
    validate,
  }) as unknown as ResourceDefinition<K, V, S, C extends "Cluster" ? false : true>;
}
