import type { DeepPartial, KubeClient } from "../client/api.ts";
import { ApiError, InvalidError, isNotFound, isRetryable } from "../client/errors.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { applyIfChanged, childObject } from "./apply.ts";
import type { Conditions } from "./conditions.ts";
import type { Live, ObjectContext } from "./context.ts";
import { hasFinalizer, isDeleting } from "./finalizers.ts";
import { builtinReadiness, type ReadyCheck, readiness } from "./readiness.ts";
import type { ReconcileOutcome } from "./reconcile.ts";
import type { StatusOf } from "./status.ts";

/**
 * Declarative children: a function returns the objects a parent should have; Converge applies them (server-side
 * apply, the controller's field manager), in dependency order, waits for readiness, prunes what is no longer
 * wanted, derives the parent's conditions, and cleans up in reverse order when the parent goes away.
 */

export interface ChildOptions<C extends KubeObject> {
  /** Identity of the child within its parent, used by `dependsOn` (default `<kind>/<name>`, lower-case kind). */
  id?: string;
  /** Ids of children that must be ready before this one is applied (and that it is deleted before). */
  dependsOn?: string[];
  /** When false the child is not wanted (and is pruned if it exists). */
  when?: boolean;
  /** Readiness, overriding the built-in check of the kind. */
  ready?: ReadyCheck<C>;
}

/** One desired child: its kind, the fields this controller owns, and how it relates to its siblings. */
export interface ChildSpec {
  type: ResourceType;
  object: KubeObject;
  options: ChildOptions<KubeObject>;
}

/** Declares a child. `object` holds only the fields the controller owns; name required, namespace defaulted. */
export function child<C extends KubeObject>(
  type: ResourceType<C>,
  object: DeepPartial<C> & KubeObject,
  options: ChildOptions<C> = {},
): ChildSpec {
  // Typed where it is written; the engine handles every child alike.
  return { type, object, options } as unknown as ChildSpec;
}

export type ChildState = "ready" | "progressing" | "waiting" | "inactive" | "disabled" | "failed";

/** What happened to each child in one reconcile; the parent's status is derived from it. */
export interface ChildReport {
  id: string;
  kind: string;
  name: string;
  state: ChildState;
  /** Why it is not ready, which dependency it waits for, or the apiserver's message. */
  message?: string;
}

export interface ChildrenOptions<
  T extends KubeObject = KubeObject,
  O extends ResourceType = ResourceType,
  N extends boolean = boolean,
> {
  /**
   * The parent's status from the children's report, written like `ctx.status` (only what changed, conditional on
   * the parent's resourceVersion). Default: `childConditions` — Ready, Progressing and Degraded.
   */
  status?: (
    status: StatusOf<T>,
    conditions: Conditions,
    report: ChildReport[],
    ctx: ObjectContext<T, O, N>,
  ) => void | Promise<void>;
  /** Requeue while children are not ready, in case their readiness changes without an event (default 30 s). */
  pollWhileProgressingMs?: number;
}

/** Labels and annotations every child carries, so that it is found without owner references or a cluster scan. */
export const childLabel = { controller: "converge.dev/controller", parentUid: "converge.dev/parent-uid" } as const;
const label = childLabel;
const annotation = {
  parent: "converge.dev/parent",
  child: "converge.dev/child",
  dependsOn: "converge.dev/depends-on",
} as const;

/** The parent key a child belongs to, for the controller that made it (from its annotations). */
export function parentOf(obj: KubeObject, controllerName: string): string | undefined {
  if (obj.metadata?.labels?.[label.controller] !== controllerName) return undefined;
  return obj.metadata?.annotations?.[annotation.parent];
}

function keyOf(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? "");
}

function typeId(type: ResourceType): string {
  return `${type.apiVersion}/${type.kind}`;
}

/** Orders children so that each comes after what it depends on; rejects unknown ids and cycles. */
export function dependencyOrder(children: ChildSpec[], idOf: (c: ChildSpec) => string): ChildSpec[] {
  const byId = new Map<string, ChildSpec>();
  for (const c of children) {
    const id = idOf(c);
    if (byId.has(id)) throw new Error(`two children have the id "${id}"; give them distinct ids`);
    byId.set(id, c);
  }
  const order: ChildSpec[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (id: string, path: string[]) => {
    if (state.get(id) === "done") return;
    if (state.get(id) === "visiting")
      throw new Error(`children depend on each other in a cycle: ${[...path, id].join(" → ")}`);
    const c = byId.get(id);
    if (!c) throw new Error(`child "${path.at(-1)}" depends on "${id}", which is not among the children`);
    state.set(id, "visiting");
    for (const dep of c.options.dependsOn ?? []) visit(dep, [...path, id]);
    state.set(id, "done");
    order.push(c);
  };
  for (const id of byId.keys()) visit(id, []);
  return order;
}

/** What the engine needs from its controller. */
export interface ChildrenHost {
  /** Makes sure events of this kind reach the controller (idempotent); resolves once its cache has synced. */
  watchChildren(type: ResourceType): Promise<void>;
  /** Child kinds declared or seen so far (for pruning). */
  childTypes(): ResourceType[];
  /** The cached children of a parent (by its uid) of one kind, in the controller's scope. */
  listChildren(type: ResourceType, parentUid: string): KubeObject[];
}

const servedCaches = new WeakMap<KubeClient, Map<string, { served: boolean; at: number }>>();

/**
 * Whether the apiserver serves a kind (a ServiceMonitor needs Prometheus Operator's CRD); cached for 30 s. Asked in
 * the parent's namespace, so that an operator with only namespaced permissions can ask too.
 */
async function isServed(client: KubeClient, type: ResourceType, namespace: string | undefined): Promise<boolean> {
  const id = typeId(type);
  const servedCache = servedCaches.get(client) ?? new Map<string, { served: boolean; at: number }>();
  servedCaches.set(client, servedCache);
  const hit = servedCache.get(id);
  if (hit && Date.now() - hit.at < 30_000) return hit.served;
  let served = true;
  try {
    await client.list(type, { limit: 1, ...(type.namespaced && namespace ? { namespace } : {}) });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    served = false;
  }
  servedCache.set(id, { served, at: Date.now() });
  return served;
}

/** A child the apiserver could not take this time (a timeout, 429, 5xx): retried with backoff, not reported failed. */
class TransientChildError extends Error {}

/** Ready / Progressing / Degraded from the children's report: what a children controller reports by default. */
export function childConditions(conditions: Conditions, report: readonly ChildReport[]): void {
  const failed = report.filter((r) => r.state === "failed");
  const pending = report.filter((r) => r.state === "progressing" || r.state === "waiting");
  const inactive = report.filter((r) => r.state === "inactive");
  const list = (rs: ChildReport[]) => rs.map((r) => `${r.id}: ${r.message ?? r.state}`).join("; ");
  const ready = failed.length === 0 && pending.length === 0;
  conditions.set(
    "Ready",
    ready,
    ready ? "ChildrenReady" : failed.length ? "ChildrenFailed" : "ChildrenNotReady",
    ready
      ? inactive.length
        ? `inactive: ${list(inactive)}`
        : "all children are ready"
      : list([...failed, ...pending]),
  );
  conditions.set(
    "Progressing",
    pending.length > 0,
    pending.length ? "ChildrenProgressing" : "ChildrenSettled",
    pending.length ? list(pending) : "",
  );
  conditions.set(
    "Degraded",
    failed.length > 0,
    failed.length ? "ChildrenFailed" : "NoFailures",
    failed.length ? list(failed) : "",
  );
}

/** The reconcile of a children controller, on the live parent. */
export async function reconcileChildren<T extends KubeObject, O extends ResourceType, N extends boolean>(
  host: ChildrenHost,
  controllerName: string,
  parentType: ResourceType<T>,
  desiredOf: (parent: Live<T, N>, ctx: ObjectContext<T, O, N>) => ChildSpec[] | Promise<ChildSpec[]>,
  options: ChildrenOptions<T, O, N>,
  ctx: ObjectContext<T, O, N>,
): Promise<ReconcileOutcome> {
  const finalizer = `converge.dev/children.${controllerName}`;
  const uid = ctx.object.metadata.uid;

  if (isDeleting(ctx.object)) {
    if (!hasFinalizer(ctx.object, finalizer)) return undefined;
    const remaining = await cleanup(host, ctx, uid);
    if (remaining > 0) return { requeueAfterMs: 1_000 };
    await ctx.finalizer(finalizer, () => {}); // nothing is left: this only removes it
    return undefined;
  }
  // Ordered clean-up on deletion, and children that owner references cannot cover, need a finalizer. The reconcile
  // goes on with the patched parent: it does not wait for the write to come back as an event, which a
  // generationChanged predicate would filter out.
  await ctx.finalizer(finalizer, () => {});

  const parent = ctx.object;
  const desired = await desiredOf(parent, ctx);
  const idOf = (c: ChildSpec) => c.options.id ?? `${c.type.kind.toLowerCase()}/${c.object.metadata?.name ?? ""}`;
  const ordered = dependencyOrder(desired, idOf);
  const reports = new Map<string, ChildReport>();
  const wanted = new Map<string, Set<string>>(); // type id → keys to keep
  const keep = (type: ResourceType, obj: KubeObject) => {
    const set = wanted.get(typeId(type)) ?? new Set<string>();
    wanted.set(typeId(type), set.add(keyOf(obj)));
  };
  let transient: TransientChildError | undefined;
  for (const c of ordered) {
    const id = idOf(c);
    const obj = childObject(c.type, c.object, parent, parentType, {
      labels: { [label.controller]: controllerName, [label.parentUid]: uid },
      annotations: {
        [annotation.parent]: keyOf(parent),
        [annotation.child]: id,
        // Recorded on the child so that clean-up keeps the order even after a restart or a change of the desired set.
        ...(c.options.dependsOn?.length ? { [annotation.dependsOn]: c.options.dependsOn.join(",") } : {}),
      },
      // An owner reference works only from a cluster-scoped parent, or within the parent's namespace; other
      // children are found by label and removed by the finalizer.
      owner: "if-possible",
    });
    const report: ChildReport = { id, kind: c.type.kind, name: obj.metadata?.name ?? "", state: "progressing" };
    reports.set(id, report);
    if (c.options.when === false) {
      report.state = "disabled";
      continue;
    }
    if (!(await isServed(ctx.client, c.type, obj.metadata?.namespace ?? undefined))) {
      report.state = "inactive";
      report.message = `${c.type.kind} (${c.type.apiVersion}) is not served by this cluster`;
      continue;
    }
    const blocker = (c.options.dependsOn ?? []).map((d) => reports.get(d)).find((r) => r?.state !== "ready");
    if (blocker) {
      report.state = "waiting";
      report.message = `waiting for ${blocker.id} (${blocker.state}${blocker.message ? `: ${blocker.message}` : ""})`;
      keep(c.type, obj); // waiting is no reason to delete it if it exists
      continue;
    }
    await host.watchChildren(c.type);
    keep(c.type, obj);
    let live: KubeObject;
    try {
      live = (await applyIfChanged(ctx.client, ctx.cache, c.type, obj, controllerName, ctx.signal)).object;
    } catch (err) {
      report.message = describe(err);
      if (isRetryable(err)) {
        // Not the child's fault: the reconcile fails after the others were seen to, and is retried with backoff.
        report.message = `retrying: ${report.message}`;
        transient ??= new TransientChildError(`${c.type.kind} ${report.name}: ${describe(err)}`, { cause: err });
        continue;
      }
      report.state = "failed";
      ctx.event("Warning", "ChildRejected", `${c.type.kind} ${report.name}: ${report.message}`, { action: "Apply" });
      continue;
    }
    const check = (c.options.ready as ReadyCheck | undefined) ?? builtinReadiness(c.type.group, c.type.kind);
    const r = readiness(check(live));
    report.state = r.ready ? "ready" : "progressing";
    if (r.reason) report.message = r.reason;
  }

  await prune(host, ctx, uid, wanted);
  const report = [...reports.values()];
  await ctx.status(async (status, conditions) => {
    if (options.status) await options.status(status, conditions, report, ctx);
    else childConditions(conditions, report);
  });
  if (transient) throw transient;
  const settled = report.every(
    (r) => r.state === "ready" || r.state === "disabled" || r.state === "inactive" || r.state === "failed",
  );
  return settled ? undefined : { requeueAfterMs: options.pollWhileProgressingMs ?? 30_000 };
}

/** Deletes children of this parent that are no longer wanted (found by label in the cache, never by a cluster scan). */
async function prune(
  host: ChildrenHost,
  ctx: { client: KubeClient; log: ObjectContext["log"] },
  uid: string,
  wanted: Map<string, Set<string>>,
) {
  for (const type of host.childTypes()) {
    const existing = host.listChildren(type, uid);
    const keep = wanted.get(typeId(type)) ?? new Set();
    for (const obj of existing) {
      if (keep.has(keyOf(obj)) || isDeleting(obj)) continue;
      try {
        await ctx.client.delete(type, keyOf(obj), { propagationPolicy: "Background" });
        ctx.log.info({ kind: type.kind, child: keyOf(obj) }, "pruned a child that is no longer wanted");
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}

/**
 * Deletes all children of a parent that is being deleted, dependents first: a child is deleted only when nothing
 * that depends on it is left. Returns how many are still there.
 */
async function cleanup(
  host: ChildrenHost,
  ctx: { client: KubeClient; log: ObjectContext["log"] },
  uid: string,
): Promise<number> {
  const all: Array<{ type: ResourceType; obj: KubeObject }> = [];
  for (const type of host.childTypes()) {
    await host.watchChildren(type);
    for (const obj of host.listChildren(type, uid)) all.push({ type, obj });
  }
  if (all.length === 0) return 0;
  // A child goes only when no remaining child depends on it.
  const neededBy = new Set(all.flatMap((c) => (c.obj.metadata?.annotations?.[annotation.dependsOn] ?? "").split(",")));
  let deleted = 0;
  for (const c of all) {
    const id = c.obj.metadata?.annotations?.[annotation.child] ?? "";
    if (neededBy.has(id) || isDeleting(c.obj)) continue;
    try {
      await ctx.client.delete(c.type, keyOf(c.obj), { propagationPolicy: "Foreground" });
      deleted++;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  ctx.log.info({ remaining: all.length, deleted }, "deleting children in reverse dependency order");
  return all.length;
}

function describe(err: unknown): string {
  if (err instanceof InvalidError) return err.fieldErrors().join("; ") || err.message;
  if (err instanceof ApiError) return `${err.reason}: ${err.message}`;
  return (err as Error)?.message ?? String(err);
}
