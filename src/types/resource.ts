import type { ObjectMeta } from "./generated/meta.v1.ts";

/**
 * Any Kubernetes object as it travels on the wire: plain parsed JSON, never class instances, so that reading a
 * list costs one JSON.parse and nothing else.
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/**
 * Everything the client needs to address one kind, and (as a phantom type) the TypeScript type of its objects.
 * Built-in kinds have one generated next to their interface under the same name, so that
 * `client.get(Deployment, "ns", "web")` resolves to `Promise<Deployment>`; custom resources get theirs from
 * their definition.
 */
export interface ResourceType<T extends KubeObject = KubeObject, N extends boolean = boolean> {
  /** API group; "" for the core group. */
  readonly group: string;
  readonly version: string;
  /** `group/version`, or `version` for the core group. */
  readonly apiVersion: string;
  readonly kind: string;
  /** The resource name in URLs, e.g. `deployments`. */
  readonly plural: string;
  /** Whether objects live in namespaces; `N` carries it in the type where it is known (`ResourceType<T, true>`). */
  readonly namespaced: N;
  /** Subresources the apiserver serves for this kind. */
  readonly subresources: { readonly status: boolean; readonly scale: boolean };
  /** Never set: carries T for inference. */
  readonly __object?: T;
}

export interface ResourceTypeInit {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  subresources?: { status?: boolean; scale?: boolean };
}

export function resourceType<T extends KubeObject, N extends boolean = boolean>(
  init: ResourceTypeInit & { namespaced: N },
): ResourceType<T, N> {
  return Object.freeze({
    group: init.group,
    version: init.version,
    apiVersion: init.group ? `${init.group}/${init.version}` : init.version,
    kind: init.kind,
    plural: init.plural,
    namespaced: init.namespaced,
    subresources: Object.freeze({
      status: init.subresources?.status ?? false,
      scale: init.subresources?.scale ?? false,
    }),
  });
}

/** The object type a ResourceType describes. */
export type ObjectOf<R> = R extends ResourceType<infer T, boolean> ? T : never;
