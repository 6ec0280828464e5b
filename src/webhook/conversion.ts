/**
 * Conversion webhooks between the versions of a custom resource, through a hub version: each other ("spoke")
 * version says how to go to the hub and back, and any pair converts through the hub (v1alpha1 → v1 → v1beta1),
 * as in controller-runtime's Hub/Convertible. Fields one version cannot hold survive a round trip in an
 * annotation (`stash` / `unstash`).
 */
import type { ResourceDefinition, VersionDefinition } from "../definition/define.ts";
import type { ObjectMeta } from "../types/generated/meta.v1.ts";
import type { KubeObject, ObjectOf } from "../types/resource.ts";
import type { ConversionRequestWire, ConversionResponseWire } from "./review.ts";

/** The annotation where `stash` keeps what a version cannot hold, until `unstash` takes it back. */
export const stashAnnotation = "converge.dev/conversion-stash";

// biome-ignore lint/suspicious/noExplicitAny: a definition of any kind and versions
type AnyDefinition = ResourceDefinition<string, Record<string, VersionDefinition>, any>;
type VersionName<D extends AnyDefinition> = keyof D["versions"] & string;
type VersionObject<D extends AnyDefinition, N extends VersionName<D>> = ObjectOf<D["versions"][N]>;

export interface ConversionOptions<D extends AnyDefinition, H extends VersionName<D>> {
  /** The version every other converts to and from (usually the storage version). */
  hub: H;
  /** For each other version: to the hub and back. The result's apiVersion and kind are set for you. */
  spokes: {
    [N in Exclude<VersionName<D>, H>]: {
      toHub: (object: VersionObject<D, N>) => VersionObject<D, H>;
      fromHub: (object: VersionObject<D, H>) => VersionObject<D, N>;
    };
  };
}

export interface Conversion {
  readonly group: string;
  readonly kind: string;
  /** The CRD's name (`<plural>.<group>`), whose conversion stanza points at the webhook. */
  readonly crdName: string;
  readonly versions: readonly string[];
  /** Converts one object to `apiVersion` (group/version). Throws on an unknown version. */
  convert(object: KubeObject, apiVersion: string): KubeObject;
}

/** Declares how `definition`'s versions convert into each other. Every version but the hub needs a spoke. */
export function defineConversion<D extends AnyDefinition, H extends VersionName<D>>(
  definition: D,
  options: ConversionOptions<D, H>,
): Conversion {
  const group = definition.group;
  const versions = Object.keys(definition.versions);
  const spokes = options.spokes as unknown as Record<
    string,
    { toHub: (o: KubeObject) => KubeObject; fromHub: (o: KubeObject) => KubeObject }
  >;
  if (!versions.includes(options.hub))
    throw new Error(`${definition.kind}: hub version "${options.hub}" is not defined`);
  for (const v of versions) {
    if (v !== options.hub && !spokes[v]) throw new Error(`${definition.kind}: no conversion for version "${v}"`);
  }
  const versionOf = (apiVersion: string): string => {
    const [g, v] = apiVersion.split("/");
    if (g !== group || !v || !versions.includes(v)) {
      throw new Error(
        `${definition.kind}: cannot convert ${apiVersion} (known: ${versions.map((x) => `${group}/${x}`).join(", ")})`,
      );
    }
    return v;
  };
  const step = (object: KubeObject, fn: (o: KubeObject) => KubeObject, to: string): KubeObject => {
    const out = fn(structuredClone(object));
    return {
      ...out,
      apiVersion: `${group}/${to}`,
      kind: object.kind,
      metadata: (out.metadata ?? object.metadata) as ObjectMeta,
    } as KubeObject;
  };
  return Object.freeze({
    group,
    kind: definition.kind,
    crdName: `${definition.plural}.${group}`,
    versions,
    convert(object: KubeObject, apiVersion: string): KubeObject {
      const from = versionOf(object.apiVersion ?? "");
      const to = versionOf(apiVersion);
      if (from === to) return object;
      const hub =
        from === options.hub ? object : step(object, (spokes[from] as (typeof spokes)[string]).toHub, options.hub);
      return to === options.hub ? hub : step(hub, (spokes[to] as (typeof spokes)[string]).fromHub, to);
    },
  });
}

/** Answers a ConversionReview: every object converted, or a Failure naming the object that could not be. */
export function convertReview(conversions: readonly Conversion[], req: ConversionRequestWire): ConversionResponseWire {
  const converted: KubeObject[] = [];
  for (const [i, object] of req.objects.entries()) {
    const group = (object.apiVersion ?? "").split("/")[0];
    const c = conversions.find((x) => x.group === group && x.kind === object.kind);
    try {
      if (!c) throw new Error(`no conversion for ${object.kind}.${group}`);
      converted.push(c.convert(object, req.desiredAPIVersion));
    } catch (err) {
      const name = object.metadata?.name ? ` ${object.metadata.name}` : "";
      return {
        uid: req.uid,
        convertedObjects: [],
        result: { status: "Failure", message: `objects[${i}]${name}: ${(err as Error).message}` },
      };
    }
  }
  return { uid: req.uid, convertedObjects: converted, result: { status: "Success" } };
}

/**
 * Keeps `data` (what the target version has no field for) in an annotation of `object`, for `unstash` on the
 * way back, so that a round trip through an older version loses nothing.
 */
export function stash<T extends KubeObject>(object: T, data: unknown): T {
  const annotations = { ...(object.metadata?.annotations ?? {}), [stashAnnotation]: JSON.stringify(data) };
  return { ...object, metadata: { ...object.metadata, annotations } };
}

/** Takes back what `stash` kept (undefined if nothing), and removes the annotation from `object`. */
export function unstash<D, T extends KubeObject = KubeObject>(object: T): { object: T; data: D | undefined } {
  const raw = object.metadata?.annotations?.[stashAnnotation];
  if (raw === undefined) return { object, data: undefined };
  const { [stashAnnotation]: _, ...rest } = object.metadata?.annotations ?? {};
  const { annotations: __, ...meta } = object.metadata ?? {};
  const metadata: ObjectMeta = Object.keys(rest).length ? { ...meta, annotations: rest } : meta;
  return { object: { ...object, metadata }, data: JSON.parse(raw) as D };
}
