/** The REST paths under which the apiserver serves kinds, namespaces' collections, objects and subresources. */
import type { ResourceType } from "../types/resource.ts";

/** `/api/v1/namespaces/ns/pods/name/status` and the like; `namespace` counts only for namespaced kinds. */
export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${type.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}
