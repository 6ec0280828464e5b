/**
 * RBAC from what the controllers declare: the kinds a controller reconciles (`for`), owns and watches, and the
 * operator's own definitions, become the least rules that let the runtime do what it does with them. Nothing here
 * reads code: a kind that a reconcile touches without declaring it (a child kind not given to `owns()`, a client
 * call on some other kind) must be declared, or listed in the operator's `extraRules`.
 */
import type { OperatorDefinition } from "../operator/operator.ts";
import type * as corev1 from "../types/generated/core.v1.ts";
import type * as rbacv1 from "../types/generated/rbac.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { type GenerateContext, type Generator, yamlFile } from "./generator.ts";
import { webhookClusterRules, webhookNamespaceRules } from "./webhook.ts";

/**
 * The reconciled (`for`) kind: read and watched, and updated or patched to add and remove finalizers and the
 * handled-annotation of handler-style controllers. Never created or deleted: its objects are the users'.
 */
export const primaryVerbs: readonly string[] = ["get", "list", "watch", "update", "patch"];
/** The status subresource of a reconciled kind (conditions, observedGeneration). */
export const statusVerbs: readonly string[] = ["get", "update", "patch"];
/**
 * The finalizers subresource of a reconciled kind: with the OwnerReferencesPermissionEnforcement admission plugin,
 * setting `blockOwnerDeletion` on a child's owner reference needs update on the owner's finalizers.
 */
export const finalizerVerbs: readonly string[] = ["update"];
/** Owned and watched kinds: children are created, applied (server-side apply is a patch), repaired and pruned. */
export const childVerbs: readonly string[] = ["get", "list", "watch", "create", "update", "patch", "delete"];
/** Kinds the operator defines but no controller declares: the operator may read them. */
export const readVerbs: readonly string[] = ["get", "list", "watch"];

/** events.k8s.io/v1 Events, written in the namespaces of the objects they are about (series are patched). */
export const eventRules: readonly rbacv1.PolicyRule[] = [
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];

/** The leader-election Lease, in the operator's own namespace (created, renewed, released). */
export const leaderElectionRules: readonly rbacv1.PolicyRule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
  },
];

/** A set of rules that merges verbs by (apiGroup, resource) and prints itself sorted. */
class RuleSet {
  /** apiGroup → resource → verbs. */
  private readonly byGroup = new Map<string, Map<string, Set<string>>>();
  /** Rules that do not decompose into (apiGroup, resource) pairs: resourceNames, nonResourceURLs. */
  private readonly other = new Map<string, rbacv1.PolicyRule>();

  add(apiGroup: string, resource: string, verbs: readonly string[]): void {
    const resources = this.byGroup.get(apiGroup) ?? new Map<string, Set<string>>();
    this.byGroup.set(apiGroup, resources);
    const set = resources.get(resource) ?? new Set<string>();
    resources.set(resource, set);
    for (const v of verbs) set.add(v);
  }

  addType(type: ResourceType, verbs: readonly string[]): void {
    this.add(type.group, type.plural, verbs);
  }

  addRule(rule: rbacv1.PolicyRule): void {
    const plain =
      !rule.resourceNames?.length &&
      !rule.nonResourceURLs?.length &&
      (rule.apiGroups?.length ?? 0) > 0 &&
      (rule.resources?.length ?? 0) > 0;
    if (plain) {
      for (const g of rule.apiGroups ?? []) for (const r of rule.resources ?? []) this.add(g, r, rule.verbs);
      return;
    }
    const normal: rbacv1.PolicyRule = {
      ...(rule.apiGroups ? { apiGroups: sorted(rule.apiGroups) } : {}),
      ...(rule.resources ? { resources: sorted(rule.resources) } : {}),
      ...(rule.resourceNames?.length ? { resourceNames: sorted(rule.resourceNames) } : {}),
      ...(rule.nonResourceURLs?.length ? { nonResourceURLs: sorted(rule.nonResourceURLs) } : {}),
      verbs: verbList(rule.verbs),
    };
    this.other.set(JSON.stringify(normal), normal);
  }

  /**
   * One rule per apiGroup and set of verbs (resources with the same verbs share a rule), sorted by apiGroup and
   * resource; then the rules with resourceNames or nonResourceURLs, sorted as JSON.
   */
  rules(): rbacv1.PolicyRule[] {
    const out: rbacv1.PolicyRule[] = [];
    for (const group of sorted(this.byGroup.keys())) {
      const byVerbs = new Map<string, { verbs: string[]; resources: string[] }>();
      const resources = this.byGroup.get(group) ?? new Map<string, Set<string>>();
      for (const resource of sorted(resources.keys())) {
        const verbs = verbList(resources.get(resource) ?? []);
        const id = verbs.join(",");
        const entry = byVerbs.get(id) ?? { verbs, resources: [] };
        byVerbs.set(id, entry);
        entry.resources.push(resource);
      }
      // Insertion order follows the sorted resources, so rules come in the order of their first resource.
      for (const { verbs, resources: rs } of byVerbs.values()) out.push({ apiGroups: [group], resources: rs, verbs });
    }
    for (const key of sorted(this.other.keys())) out.push(this.other.get(key) as rbacv1.PolicyRule);
    return out;
  }
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Sorted verbs; `*` stands for all of them. */
function verbList(verbs: Iterable<string>): string[] {
  const list = sorted(verbs);
  return list.includes("*") ? ["*"] : list;
}

/**
 * The cluster-wide rules of an operator (its ClusterRole): from each controller (every factory is called once),
 * for the reconciled kind get, list, watch, update and patch, `<plural>/status` get, update and patch when the
 * kind has a status subresource, and `<plural>/finalizers` update; for owned and watched kinds get, list, watch,
 * create, update, patch and delete; for defined kinds no controller declares, get, list and watch; events.k8s.io
 * events create and patch; and the operator's `extraRules`. Merged by apiGroup and resource, sorted, deterministic.
 */
export function rulesFor(op: OperatorDefinition, options: { webhooks?: boolean } = {}): rbacv1.PolicyRule[] {
  const set = new RuleSet();
  for (const c of op.controllers) {
    for (const { type, role } of c.watchedTypes) {
      if (role === "for") {
        set.addType(type, primaryVerbs);
        if (type.subresources.status) set.add(type.group, `${type.plural}/status`, statusVerbs);
        set.add(type.group, `${type.plural}/finalizers`, finalizerVerbs);
      } else if (role === "owns") {
        set.addType(type, childVerbs);
      } else {
        set.addType(type, readVerbs);
      }
    }
  }
  for (const d of op.definitions) set.addType(d, readVerbs);
  for (const rule of eventRules) set.addRule(rule);
  for (const rule of op.extraRules ?? []) set.addRule(rule);
  if (options.webhooks ?? true) for (const rule of webhookClusterRules({ op })) set.addRule(rule);
  return set.rules();
}

/** Names of the RBAC objects of an operator. */
export function rbacNames(name: string): {
  serviceAccount: string;
  clusterRole: string;
  leaderElectionRole: string;
  webhookRole: string;
} {
  return {
    serviceAccount: name,
    clusterRole: `${name}-manager`,
    leaderElectionRole: `${name}-leader-election`,
    webhookRole: `${name}-webhook`,
  };
}

/**
 * The operator's identity and permissions: ServiceAccount `<name>` in the operator's namespace, ClusterRole and
 * ClusterRoleBinding `<name>-manager` (the operator watches all namespaces), Role and RoleBinding
 * `<name>-leader-election` in its namespace for the Lease. Every object is labelled with the operator's name and
 * `app.kubernetes.io/managed-by: converge`.
 */
export function rbacObjects(ctx: GenerateContext): KubeObject[] {
  const { op, namespace } = ctx;
  const names = rbacNames(op.name);
  const labels = { "app.kubernetes.io/name": op.name, "app.kubernetes.io/managed-by": "converge" };
  const subjects: rbacv1.Subject[] = [{ kind: "ServiceAccount", name: names.serviceAccount, namespace }];
  const serviceAccount: corev1.ServiceAccount = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: names.serviceAccount, namespace, labels: { ...labels } },
  };
  const clusterRole: rbacv1.ClusterRole = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: names.clusterRole, labels: { ...labels } },
    rules: rulesFor(op),
  };
  const clusterRoleBinding: rbacv1.ClusterRoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: names.clusterRole, labels: { ...labels } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: names.clusterRole },
    subjects,
  };
  const role: rbacv1.Role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: names.leaderElectionRole, namespace, labels: { ...labels } },
    rules: leaderElectionRules.map((r) => structuredClone(r)),
  };
  const roleBinding: rbacv1.RoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: names.leaderElectionRole, namespace, labels: { ...labels } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.leaderElectionRole },
    subjects: structuredClone(subjects),
  };
  const webhookRules = webhookNamespaceRules(ctx);
  const webhookRole: rbacv1.Role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: names.webhookRole, namespace, labels: { ...labels } },
    rules: webhookRules,
  };
  const webhookRoleBinding: rbacv1.RoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: names.webhookRole, namespace, labels: { ...labels } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.webhookRole },
    subjects: structuredClone(subjects),
  };
  const webhookRoles: KubeObject[] = webhookRules.length ? [webhookRole, webhookRoleBinding] : [];
  return [serviceAccount, clusterRole, clusterRoleBinding, role, roleBinding, ...webhookRoles];
}

/** `config/rbac/rbac.yaml`: the ServiceAccount, ClusterRole, ClusterRoleBinding, Role and RoleBinding. */
export const rbacGenerator: Generator = {
  name: "rbac",
  generate: (ctx) => [yamlFile("config/rbac/rbac.yaml", rbacObjects(ctx))],
};
