/** The names a scaffolded kind is written with, derived from its group, version and kind, and their checks. */

export interface KindParams {
  /** API group, a DNS subdomain with at least one dot (`example.com`, `cache.example.com`). */
  group: string;
  /** Kubernetes version name (`v1alpha1`, `v1beta1`, `v1`). */
  version: string;
  /** Kind, UpperCamelCase (`Memcached`). */
  kind: string;
}

export interface KindNames extends KindParams {
  /** Lower-case kind: file names, the controller's name, the default singular (`memcached`). */
  lower: string;
  /** The plural `defineResource` derives (`memcacheds`). */
  plural: string;
  /** The CRD's name (`memcacheds.cache.example.com`). */
  crdName: string;
  /** The controller factory's name (`memcachedController`). */
  controllerFactory: string;
  /** A variable name for one object of the kind (`memcached`). */
  variable: string;
}

const reserved = new Set(
  (
    "await break case catch class const continue debugger default delete do else enum export extends false finally " +
    "for function if implements import in instanceof interface let new null package private protected public " +
    "return static super switch this throw true try typeof var void while with yield"
  ).split(" "),
);

/** Why a group, version or kind cannot be used, or undefined when they can. */
export function kindProblem(p: KindParams): string | undefined {
  if (!/^[A-Z][A-Za-z0-9]{0,62}$/.test(p.kind)) {
    return `kind "${p.kind}" must be UpperCamelCase: a capital letter, then letters and digits (e.g. Memcached)`;
  }
  const label = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";
  if (p.group.length > 253 || !new RegExp(`^${label}(\\.${label})+$`).test(p.group)) {
    return `group "${p.group}" must be a lower-case DNS name with at least one dot (e.g. cache.example.com)`;
  }
  if (!/^v[1-9]\d*((alpha|beta)[1-9]\d*)?$/.test(p.version)) {
    return `version "${p.version}" must be a Kubernetes version name (v1, v1beta1, v1alpha1)`;
  }
  return undefined;
}

export function kindNames(p: KindParams): KindNames {
  const lower = p.kind.toLowerCase();
  const plural = `${lower}s`;
  const camel = p.kind.charAt(0).toLowerCase() + p.kind.slice(1);
  return {
    ...p,
    lower,
    plural,
    crdName: `${plural}.${p.group}`,
    controllerFactory: `${camel}Controller`,
    variable: reserved.has(camel) ? "obj" : camel,
  };
}

/** Why a name cannot name a project and its operator (a DNS label, also a valid npm package name). */
export function projectNameProblem(name: string): string | undefined {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    return `project name "${name}" must be a DNS label: lower-case letters, digits and '-', at most 63 characters`;
  }
  return undefined;
}
