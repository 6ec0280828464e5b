/** Objects as the fake stores them (plain JSON), their keys, and the views the verbs answer with. */
import type { ObjectMeta } from "../../types/generated/meta.v1.ts";
import type { ResourceType } from "../../types/resource.ts";
import type { Scale } from "../api.ts";

/** A stored object: always with apiVersion, kind and a metadata object. */
export type Obj = { apiVersion?: string; kind?: string; metadata: ObjectMeta; [key: string]: unknown };

/** Stored objects are plain JSON; the type parameter of a verb only describes them. */
export function as<T>(obj: Obj): T {
  return obj as unknown as T;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** The store's key of an object: `namespace/name`, or `name` for cluster-scoped kinds. */
export function keyFor(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Core and *.k8s.io groups are built in; their list items come without apiVersion and kind. */
export function isBuiltIn(type: ResourceType): boolean {
  return !type.group.includes(".") || type.group.endsWith(".k8s.io");
}

/** The PartialObjectMetadata of an object, for metadata-only lists and watches. */
export function partial(obj: Obj): unknown {
  return { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata: clone(obj.metadata) };
}

/** The autoscaling/v1 Scale of an object, as the scale subresource shows it. */
export function scaleOf(obj: Obj): Scale {
  const spec = obj.spec as { replicas?: number; selector?: LabelSelectorLike } | undefined;
  const status = obj.status as { replicas?: number; selector?: unknown } | undefined;
  const selector = typeof status?.selector === "string" ? status.selector : selectorString(spec?.selector);
  const m = obj.metadata;
  return {
    apiVersion: "autoscaling/v1",
    kind: "Scale",
    metadata: {
      name: m.name,
      ...(m.namespace ? { namespace: m.namespace } : {}),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: spec?.replicas !== undefined ? { replicas: spec.replicas } : {},
    status: { replicas: status?.replicas ?? 0, ...(selector ? { selector } : {}) },
  };
}

interface LabelSelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

function selectorString(sel: LabelSelectorLike | undefined): string | undefined {
  if (!sel) return undefined;
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const values = `(${(e.values ?? []).join(",")})`;
    if (e.operator === "In") parts.push(`${e.key} in ${values}`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin ${values}`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(",") : undefined;
}
