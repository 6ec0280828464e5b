/**
 * Generates `src/types/generated/`: the TypeScript types of Kubernetes' built-in kinds, from the OpenAPI v3 and
 * discovery documents of a real kube-apiserver (the pinned version), so that no Kubernetes type is maintained by
 * hand.
 *
 *   node scripts/generate-types.ts     (Node 24; `node_modules/.bin/node` when the machine's node is older)
 *
 * starts a minimal plane (etcd + kube-apiserver), or uses the cluster of `CONVERGE_TEST_KUBECONFIG` when set,
 * and rewrites the folder. Three parts, so that a test can regenerate in memory and compare byte for byte:
 * `fetchGeneratorInput` (the HTTP requests), `generateTypes` (a pure function of the documents) and
 * `writeGeneratedFiles`.
 *
 * What is generated:
 * - one file per stable group-version (`v1`, `apps/v1`, ... but no alpha or beta) that kube-apiserver serves
 *   itself (not through a CustomResourceDefinition or an aggregated APIService), named `<group>.<version>.ts`
 *   after the group's first DNS label (`core.v1.ts`, `apps.v1.ts`, `rbac.v1.ts`), like client-go's packages;
 * - `meta.v1.ts` for io.k8s.apimachinery.pkg.apis.meta.v1 and `apimachinery.ts` for the other apimachinery
 *   value types (Quantity, IntOrString, RawExtension); schemas of any other package that a stable
 *   group-version references (say a field of an alpha feature) go to `<package>.<version>.ts`;
 * - every schema becomes an interface (objects) or a type alias, with its description as JSDoc; every kind
 *   that discovery lists as a resource also gets a `ResourceType` value of the same name.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ControlPlane } from "../src/cluster/control-plane.ts";
import { PlaneHttp } from "../src/cluster/http.ts";
import { credentialsFromKubeconfig } from "../src/cluster/state.ts";
import { versions } from "../src/cluster/versions.ts";
import {
  canonicalJson,
  compare,
  docComment,
  indent,
  lineWidth,
  literal,
  print,
  propertyKey,
  propertySignature,
  stringLiteral,
  type TypeExpr,
  typeAliasDeclaration,
  typeName,
  union,
  wrapWords,
} from "../src/generate/typescript.ts";

// ---------------------------------------------------------------------------------------------------------------
// Input: the documents, as the apiserver serves them

/** The part of an OpenAPI v3 schema object that Kubernetes uses. */
export interface Schema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  not?: Schema;
  enum?: unknown[];
  nullable?: boolean;
  $ref?: string;
  "x-kubernetes-group-version-kind"?: GroupVersionKind[];
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  [extension: string]: unknown;
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface OpenApiDocument {
  components?: { schemas?: Record<string, Schema> };
}

/** An entry of a discovery APIResourceList (`/api/v1`, `/apis/<group>/<version>`). */
export interface DiscoveryResource {
  name: string;
  kind: string;
  namespaced: boolean;
  group?: string;
  version?: string;
}

export interface DiscoveryResourceList {
  groupVersion: string;
  resources: DiscoveryResource[];
}

export interface GeneratorInput {
  /** The apiserver's `gitVersion`, e.g. `v1.37.2`: written into every file's header. */
  kubernetesVersion: string;
  /**
   * OpenAPI v3 documents by their path under `/openapi/v3`: `api/v1`, `apis/apps/v1`, ... for every
   * group-version of `discovery`, plus `api` and `apis` (the discovery types of meta/v1) when present.
   */
  openapi: Record<string, OpenApiDocument>;
  /** Discovery of the group-versions to generate, by group-version (`v1`, `apps/v1`, ...). */
  discovery: Record<string, DiscoveryResourceList>;
}

/** Where generated files live, relative to the repository root. */
export const generatedDir = "src/types/generated";

/** The command that regenerates them, as written in their headers. */
export const generatorCommand = "node scripts/generate-types.ts";

const stableVersion = /^v\d+$/;
const refPrefix = "#/components/schemas/";
const metaPackage = "io.k8s.apimachinery.pkg.apis.meta.v1";
const apimachineryPrefix = "io.k8s.apimachinery.pkg.";
const apiextensionsPackage = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1";

/**
 * Schemas whose OpenAPI form says less than their JSON does. Each replacement is itself a schema and goes through
 * the same conversion.
 */
const schemaOverrides: Record<string, Schema> = {
  // Serialized as a string ("100m", "1Gi"); the schema's oneOf also admits a number on input only.
  "io.k8s.apimachinery.pkg.api.resource.Quantity": { type: "string" },
  // These three have an empty schema; their Go types marshal as one of two shapes.
  [`${apiextensionsPackage}.JSONSchemaPropsOrArray`]: {
    oneOf: [
      { $ref: `${refPrefix}${apiextensionsPackage}.JSONSchemaProps` },
      { type: "array", items: { $ref: `${refPrefix}${apiextensionsPackage}.JSONSchemaProps` } },
    ],
  },
  [`${apiextensionsPackage}.JSONSchemaPropsOrBool`]: {
    oneOf: [{ $ref: `${refPrefix}${apiextensionsPackage}.JSONSchemaProps` }, { type: "boolean" }],
  },
  [`${apiextensionsPackage}.JSONSchemaPropsOrStringArray`]: {
    oneOf: [
      { $ref: `${refPrefix}${apiextensionsPackage}.JSONSchemaProps` },
      { type: "array", items: { type: "string" } },
    ],
  },
};

/** Fields the server fills in or defaults on every object of a kind: optional even where a schema requires them. */
const serverFilledFields = new Set(["apiVersion", "kind", "metadata", "status"]);

/** Names the generated code itself uses; a schema with one of these names would shadow them. */
const reservedNames = new Set(["Record", "ResourceType", "resourceType"]);

// ---------------------------------------------------------------------------------------------------------------
// The pure part: documents in, files out

interface FileInfo {
  /** File name without `.ts`: `core.v1`, `meta.v1`, `apimachinery`. */
  stem: string;
  /** The namespace the file is imported as, in other generated files and in src/types/index.ts. */
  alias: string;
  /** The group-version it holds, when it is one. */
  groupVersion?: { group: string; version: string };
  packages: Set<string>;
}

interface Kind {
  resource: DiscoveryResource;
  group: string;
  version: string;
  status: boolean;
  scale: boolean;
}

/** The namespace name of each generated file, by file name (`apps.v1.ts` → `appsv1`). */
export function namespaceAliases(files: ReadonlyMap<string, string>): Map<string, string> {
  const aliases = new Map<string, string>();
  for (const name of files.keys()) aliases.set(name, aliasOf(name.replace(/\.ts$/, "")));
  return aliases;
}

/**
 * Converts the documents into TypeScript files: file name (in `src/types/generated/`) → content. Deterministic:
 * the same documents give byte-identical files.
 */
export function generateTypes(input: GeneratorInput): Map<string, string> {
  const groupVersions = Object.keys(input.discovery)
    .filter((gv) => stableVersion.test(splitGroupVersion(gv).version))
    .sort(compare);
  const schemas = mergeSchemas(input, groupVersions);

  // Which file each group-version goes to: the group's first DNS label, unless two groups share it.
  const gvStems = new Map<string, string>();
  const byShort = new Map<string, string[]>();
  for (const gv of groupVersions) {
    const { group, version } = splitGroupVersion(gv);
    const short = `${group === "" ? "core" : (group.split(".")[0] as string)}.${version}`;
    byShort.set(short, [...(byShort.get(short) ?? []), gv]);
  }
  for (const [short, gvs] of byShort) {
    for (const gv of gvs) {
      const { group, version } = splitGroupVersion(gv);
      gvStems.set(gv, gvs.length === 1 ? short : `${group}.${version}`);
    }
  }

  // Which file each schema goes to, by its package (the name without its last segment).
  const files = new Map<string, FileInfo>();
  const homeOf = new Map<string, FileInfo>();
  const packageFile = new Map<string, FileInfo>();
  const fileFor = (stem: string, groupVersion?: { group: string; version: string }): FileInfo => {
    let file = files.get(stem);
    if (!file) {
      file = { stem, alias: aliasOf(stem), packages: new Set(), ...(groupVersion ? { groupVersion } : {}) };
      files.set(stem, file);
    }
    return file;
  };
  for (const pkg of [...new Set([...schemas.keys()].map(packageOf))].sort(compare)) {
    let file: FileInfo;
    if (pkg === metaPackage) file = fileFor("meta.v1");
    else if (pkg.startsWith(apimachineryPrefix)) file = fileFor("apimachinery");
    else {
      const gvs = new Set<string>();
      for (const [name, schema] of schemas) {
        if (packageOf(name) !== pkg) continue;
        for (const gvk of schema["x-kubernetes-group-version-kind"] ?? []) {
          const gv = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
          if (gvStems.has(gv)) gvs.add(gv);
        }
      }
      if (gvs.size === 1) {
        const gv = [...gvs][0] as string;
        file = fileFor(gvStems.get(gv) as string, splitGroupVersion(gv));
      } else {
        const segments = pkg.split(".");
        const stem = segments.slice(-2).join(".");
        if ([...gvStems.values()].includes(stem)) {
          throw new Error(`package ${pkg} would share ${stem}.ts with a group-version of another package`);
        }
        file = fileFor(stem);
      }
    }
    file.packages.add(pkg);
    packageFile.set(pkg, file);
  }
  for (const name of schemas.keys()) homeOf.set(name, packageFile.get(packageOf(name)) as FileInfo);

  // Short names must be unique within a file, and must not shadow what the generated code uses.
  const byFile = new Map<FileInfo, Map<string, string>>();
  for (const [name, file] of homeOf) {
    const short = shortName(name);
    const names = byFile.get(file) ?? new Map<string, string>();
    byFile.set(file, names);
    const other = names.get(short);
    if (other) throw new Error(`${other} and ${name} would both be ${short} in ${file.stem}.ts`);
    if (reservedNames.has(short)) throw new Error(`${name}: the name ${short} is used by the generated code`);
    names.set(short, name);
  }

  // Kinds: what discovery lists as a resource (not a subresource), with the schema of the same group-version-kind.
  const kinds = new Map<string, Kind>();
  for (const gv of groupVersions) {
    const { group, version } = splitGroupVersion(gv);
    const resources = (input.discovery[gv] as DiscoveryResourceList).resources;
    const names = new Set(resources.map((r) => r.name));
    for (const resource of resources) {
      if (resource.name.includes("/")) continue;
      const schemaName = [...schemas.keys()].find((name) =>
        (schemas.get(name)?.["x-kubernetes-group-version-kind"] ?? []).some(
          (gvk) => gvk.group === group && gvk.version === version && gvk.kind === resource.kind,
        ),
      );
      if (!schemaName) throw new Error(`${gv} ${resource.name}: no OpenAPI schema for kind ${resource.kind}`);
      if (homeOf.get(schemaName)?.stem !== gvStems.get(gv)) {
        throw new Error(`${gv} ${resource.name}: schema ${schemaName} is not in ${gvStems.get(gv)}.ts`);
      }
      if (kinds.has(schemaName)) throw new Error(`${gv}: two resources of kind ${resource.kind}`);
      kinds.set(schemaName, {
        resource,
        group,
        version,
        status: names.has(`${resource.name}/status`),
        scale: names.has(`${resource.name}/scale`),
      });
    }
  }

  const out = new Map<string, string>();
  for (const file of [...files.values()].sort((a, b) => compare(a.stem, b.stem))) {
    const members = [...(byFile.get(file) ?? new Map<string, string>()).entries()].sort((a, b) => compare(a[0], b[0]));
    out.set(`${file.stem}.ts`, renderFile(input.kubernetesVersion, file, members, schemas, homeOf, kinds));
  }
  return out;
}

/** All schemas of the documents used, once each; a schema that several documents carry must be the same in all. */
function mergeSchemas(input: GeneratorInput, groupVersions: string[]): Map<string, Schema> {
  const docs: string[] = [];
  for (const gv of groupVersions) {
    const path = gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
    if (!input.openapi[path]) throw new Error(`no OpenAPI v3 document for ${gv} (${path})`);
    docs.push(path);
  }
  for (const path of ["api", "apis"]) if (input.openapi[path]) docs.push(path);

  const merged = new Map<string, Schema>();
  const gvks = new Map<string, Map<string, GroupVersionKind>>();
  for (const path of docs.sort(compare)) {
    for (const [name, schema] of Object.entries(input.openapi[path]?.components?.schemas ?? {})) {
      const { "x-kubernetes-group-version-kind": own, ...rest } = schema;
      const seen = merged.get(name);
      if (!seen) merged.set(name, rest);
      else if (canonicalJson(seen) !== canonicalJson(rest)) {
        throw new Error(`schema ${name} differs between OpenAPI documents (${path} and another)`);
      }
      const list = gvks.get(name) ?? new Map<string, GroupVersionKind>();
      gvks.set(name, list);
      for (const gvk of own ?? []) list.set(`${gvk.group}/${gvk.version}/${gvk.kind}`, gvk);
    }
  }
  const result = new Map<string, Schema>();
  for (const name of [...merged.keys()].sort(compare)) {
    const list = [...(gvks.get(name)?.entries() ?? [])].sort((a, b) => compare(a[0], b[0])).map((e) => e[1]);
    const schema = { ...(schemaOverrides[name] ?? merged.get(name)), description: merged.get(name)?.description };
    result.set(name, list.length ? { ...schema, "x-kubernetes-group-version-kind": list } : schema);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

/** Descriptions longer than this are cut (the longest are several KB of prose about one field). */
const maxDescription = 1500;

function renderFile(
  kubernetesVersion: string,
  file: FileInfo,
  members: [string, string][],
  schemas: Map<string, Schema>,
  homeOf: Map<string, FileInfo>,
  kinds: Map<string, Kind>,
): string {
  const imports = new Map<string, string>(); // alias → stem
  const ref = (target: string): TypeExpr => {
    const name = target.startsWith(refPrefix) ? target.slice(refPrefix.length) : target;
    const home = homeOf.get(name);
    if (!home) throw new Error(`${file.stem}.ts: reference to unknown schema ${target}`);
    if (home === file) return typeName(shortName(name));
    imports.set(home.alias, home.stem);
    return typeName(`${home.alias}.${shortName(name)}`);
  };

  const body: string[] = [];
  let usesResourceType = false;
  for (const [short, name] of members) {
    const schema = schemas.get(name) as Schema;
    const kind = kinds.get(name);
    body.push("");
    body.push(...jsDoc(schema.description, ""));
    if (schema.type === "object" && schema.properties && Object.keys(schema.properties).length > 0) {
      body.push(`export interface ${short} {`);
      const gvks = schema["x-kubernetes-group-version-kind"] ?? [];
      const gvk = gvks.length === 1 ? gvks[0] : undefined;
      const required = new Set(schema.required ?? []);
      for (const prop of Object.keys(schema.properties).sort(compare)) {
        const propSchema = schema.properties[prop] as Schema;
        let type = convert(propSchema, ref, `${name}.${prop}`);
        // A kind's apiVersion and kind are literals, which say more than their (always the same) description.
        let description = propSchema.description;
        if (gvk && prop === "apiVersion") {
          type = typeName(literal(gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version));
        }
        if (gvk && prop === "kind") type = typeName(literal(gvk.kind));
        if (gvk && (prop === "apiVersion" || prop === "kind")) description = undefined;
        const optional = !required.has(prop) || (gvks.length > 0 && serverFilledFields.has(prop));
        body.push(...jsDoc(description, "  "));
        body.push(print(["  ", indent(propertySignature(`${propertyKey(prop)}${optional ? "?" : ""}`, type))]));
      }
      body.push("}");
    } else {
      body.push(print(typeAliasDeclaration(short, convert(schema, ref, name))));
    }
    if (kind) {
      usesResourceType = true;
      const { resource, group, version } = kind;
      const apiVersion = group ? `${group}/${version}` : version;
      const subresources = [kind.status ? "status" : "", kind.scale ? "scale" : ""].filter(Boolean);
      body.push("");
      body.push(
        `/** Resource \`${resource.name}\` of \`${apiVersion}\`, ${resource.namespaced ? "namespaced" : "cluster-scoped"}` +
          `; ${subresources.length ? `subresources: ${subresources.join(", ")}` : "no status or scale subresource"}. */`,
      );
      body.push(`export const ${short}: ResourceType<${short}> = resourceType({`);
      body.push(`  group: ${stringLiteral(group)},`);
      body.push(`  version: ${stringLiteral(version)},`);
      body.push(`  kind: ${stringLiteral(resource.kind)},`);
      body.push(`  plural: ${stringLiteral(resource.name)},`);
      body.push(`  namespaced: ${resource.namespaced},`);
      body.push(`  subresources: { status: ${kind.status}, scale: ${kind.scale} },`);
      body.push("});");
    }
  }

  const packages = [...file.packages].sort(compare).join(", ");
  const gv = file.groupVersion;
  const what = !gv
    ? `The schemas of ${packages}, which the stable group-versions use.`
    : gv.group
      ? `The Kubernetes API ${gv.group}/${gv.version}: the schemas of ${packages}.`
      : `The Kubernetes API ${gv.version} (the core group): the schemas of ${packages}.`;
  const head = [
    `// Code generated by \`${generatorCommand}\` from the OpenAPI v3 and discovery documents of`,
    `// Kubernetes ${kubernetesVersion}. DO NOT EDIT: regenerate instead.`,
    "//",
    ...wrapWords(what, "// ", "// "),
    "",
  ];
  if (usesResourceType) head.push(`import { type ResourceType, resourceType } from "../resource.ts";`);
  for (const [alias, stem] of [...imports.entries()].sort((a, b) => compare(a[1], b[1]))) {
    head.push(`import type * as ${alias} from "./${stem}.ts";`);
  }
  if (head[head.length - 1] === "") head.pop();
  return `${[...head, ...body].join("\n")}\n`;
}

/** The TypeScript type of a schema; `where` names it in errors. */
function convert(schema: Schema, ref: (target: string) => TypeExpr, where: string): TypeExpr {
  const nullable = (t: TypeExpr): TypeExpr => (schema.nullable ? union([t, typeName("null")]) : t);
  if (schema.$ref) return nullable(ref(schema.$ref));
  if (schema.allOf) {
    if (schema.allOf.length !== 1) throw new Error(`${where}: allOf with ${schema.allOf.length} entries`);
    return nullable(convert(schema.allOf[0] as Schema, ref, where));
  }
  if (schema.anyOf || schema.not) throw new Error(`${where}: anyOf and not are not supported`);
  if (schema.oneOf) return nullable(union(schema.oneOf.map((s) => convert(s, ref, where))));
  if (schema.enum) {
    const values = [...new Set(schema.enum.map((v) => literal(v)))].sort(compare);
    return nullable(union(values.map(typeName)));
  }
  if (schema["x-kubernetes-int-or-string"]) return nullable(union([typeName("number"), typeName("string")]));
  switch (schema.type) {
    case "string":
      return nullable(typeName("string"));
    case "integer":
    case "number":
      return nullable(typeName("number"));
    case "boolean":
      return nullable(typeName("boolean"));
    case "array":
      return nullable({
        kind: "array",
        of: schema.items ? convert(schema.items, ref, `${where}[]`) : typeName("unknown"),
      });
    case "object": {
      if (schema.properties && Object.keys(schema.properties).length > 0) {
        throw new Error(`${where}: an object with properties must be a named schema`);
      }
      const values = schema.additionalProperties;
      const of = typeof values === "object" ? convert(values, ref, `${where}{}`) : typeName("unknown");
      return nullable({ kind: "record", of });
    }
    case undefined:
      return typeName("unknown");
    default:
      throw new Error(`${where}: unknown type ${schema.type}`);
  }
}

/** A description as a JSDoc comment: very long ones cut at a paragraph, lines wrapped at the line width. */
function jsDoc(description: string | undefined, prefix: string): string[] {
  return docComment(description, { indent: prefix, width: lineWidth, maxLength: maxDescription });
}

// ---------------------------------------------------------------------------------------------------------------
// Names

function splitGroupVersion(gv: string): { group: string; version: string } {
  const slash = gv.indexOf("/");
  return slash < 0 ? { group: "", version: gv } : { group: gv.slice(0, slash), version: gv.slice(slash + 1) };
}

function packageOf(schemaName: string): string {
  return schemaName.slice(0, schemaName.lastIndexOf("."));
}

function shortName(schemaName: string): string {
  return schemaName.slice(schemaName.lastIndexOf(".") + 1);
}

function aliasOf(stem: string): string {
  const alias = stem.replace(/[^A-Za-z0-9_$]/g, "");
  if (!/^[A-Za-z_$]/.test(alias)) throw new Error(`no namespace name for ${stem}.ts`);
  return alias;
}

// ---------------------------------------------------------------------------------------------------------------
// Fetching and writing

/** What fetching needs of an HTTP client (`PlaneHttp` fits). */
export interface JsonGetter {
  expectOk<T = unknown>(method: string, path: string): Promise<T>;
}

interface GroupList {
  groups: { name: string; versions: { groupVersion: string; version: string }[] }[];
}

/**
 * Reads everything `generateTypes` needs from an apiserver: its version, discovery of every stable group-version
 * that it serves itself, and their OpenAPI v3 documents. Group-versions served by a CustomResourceDefinition or
 * by an aggregated APIService are left out, so that a cluster's extensions never end up in the built-in types.
 */
export async function fetchGeneratorInput(http: JsonGetter): Promise<GeneratorInput> {
  const json = async <T>(path: string): Promise<T> => {
    // The /openapi/v3 index is JSON served as text/plain.
    const body = await http.expectOk<unknown>("GET", path);
    return (typeof body === "string" ? JSON.parse(body) : body) as T;
  };
  const version = await json<{ gitVersion: string }>("/version");
  const core = await json<{ versions: string[] }>("/api");
  const groups = await json<GroupList>("/apis");
  // Read after discovery: an extension that discovery showed is then always in these lists.
  const crds = await json<{ items: { spec: { group: string; versions: { name: string }[] } }[] }>(
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
  );
  const apiServices = await json<{ items: { spec: { group?: string; version?: string; service?: unknown } }[] }>(
    "/apis/apiregistration.k8s.io/v1/apiservices",
  );
  const extensions = new Set<string>();
  for (const crd of crds.items) for (const v of crd.spec.versions) extensions.add(`${crd.spec.group}/${v.name}`);
  for (const s of apiServices.items) if (s.spec.service) extensions.add(`${s.spec.group}/${s.spec.version}`);

  const groupVersions = [
    ...core.versions,
    ...groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion)),
  ].filter((gv) => stableVersion.test(splitGroupVersion(gv).version) && !extensions.has(gv));

  const index = await json<{ paths: Record<string, { serverRelativeURL: string }> }>("/openapi/v3");
  const input: GeneratorInput = { kubernetesVersion: version.gitVersion, openapi: {}, discovery: {} };
  for (const gv of groupVersions.sort(compare)) {
    const path = gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
    input.discovery[gv] = await json<DiscoveryResourceList>(`/${path}`);
  }
  for (const path of [...groupVersions.map((gv) => (gv.includes("/") ? `apis/${gv}` : `api/${gv}`)), "api", "apis"]) {
    const entry = index.paths[path];
    if (!entry) throw new Error(`the apiserver lists no OpenAPI v3 document for ${path}`);
    input.openapi[path] = await json<OpenApiDocument>(entry.serverRelativeURL);
  }
  return input;
}

/** Writes the files into `dir` and removes any other `.ts` file there (a group-version that went away). */
export async function writeGeneratedFiles(dir: string, files: ReadonlyMap<string, string>): Promise<string[]> {
  const changed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.endsWith(".ts") && !files.has(name)) {
      await rm(join(dir, name));
      changed.push(`removed ${name}`);
    }
  }
  for (const [name, content] of files) {
    const old = await readFile(join(dir, name), "utf8").catch(() => undefined);
    if (old === content) continue;
    await writeFile(join(dir, name), content);
    changed.push(`${old === undefined ? "created" : "updated"} ${name}`);
  }
  return changed;
}

async function main(): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };

  let http: PlaneHttp;
  let stop: () => Promise<void>;
  const kubeconfig = process.env.CONVERGE_TEST_KUBECONFIG;
  if (kubeconfig) {
    const credentials = await credentialsFromKubeconfig(kubeconfig);
    if (!credentials) throw new Error(`cannot use ${kubeconfig}: no server with a client certificate or token`);
    log(`using the cluster of ${kubeconfig} (CONVERGE_TEST_KUBECONFIG)`);
    http = new PlaneHttp(credentials);
    stop = async () => http.close();
  } else {
    log("starting a minimal plane (etcd + kube-apiserver) ...");
    const plane = await ControlPlane.start({ mode: "minimal", log: (l) => log(`  ${l}`) });
    http = plane.http;
    stop = () => plane.stop();
  }
  try {
    const input = await fetchGeneratorInput(http);
    if (input.kubernetesVersion !== `v${versions.kubernetes}`) {
      log(`warning: the apiserver is ${input.kubernetesVersion}, but the pinned version is v${versions.kubernetes}`);
    }
    const files = generateTypes(input);
    const dir = join(import.meta.dirname, "..", generatedDir);
    await mkdir(dir, { recursive: true });
    const changed = await writeGeneratedFiles(dir, files);
    let bytes = 0;
    for (const content of files.values()) bytes += Buffer.byteLength(content);
    for (const line of changed) log(`  ${line}`);
    log(
      `${generatedDir}: ${files.size} files, ${(bytes / 1024).toFixed(0)} KiB, from Kubernetes ` +
        `${input.kubernetesVersion} (${Object.keys(input.discovery).length} group-versions); ` +
        `${changed.length ? `${changed.length} changed` : "unchanged"}`,
    );
  } finally {
    await stop();
  }
}

if (import.meta.main) await main();
