import { createHash } from "node:crypto";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import type { Behaviour, RunContext } from "./builder.ts";
import { asLive, type Live, type ObjectContext, objectContext, type Request } from "./context.ts";
import { isDeleting } from "./finalizers.ts";
import type { ReconcileOutcome } from "./reconcile.ts";

/**
 * Handler-style controllers for those who think in events, as kopf users do: on create, update, delete, a
 * field change, timers and per-object daemons — running on the same level-based engine as every controller.
 *
 * What has been handled is remembered in one small annotation per object (`converge.dev/handled.<name>`):
 * digests of the spec and watched fields, and which handlers finished for that spec. It stays a few hundred
 * bytes whatever the object's size, unlike a copy of the last handled object (kopf's `last-handled-configuration`
 * breaks on objects near the 256 KiB annotation limit). The previous object is passed to update and field
 * handlers when this process saw it; after a restart it is undefined.
 */

/** The context handlers get: the same as a reconcile on the live object. */
export type HandlerContext<
  T extends KubeObject = KubeObject,
  O extends ResourceType = ResourceType,
  N extends boolean = boolean,
> = ObjectContext<T, O, N>;

export type Handler<T extends KubeObject, O extends ResourceType = ResourceType, N extends boolean = boolean> = (
  obj: Live<T, N>,
  ctx: HandlerContext<T, O, N>,
) => Promise<void> | void;
export type UpdateHandler<T extends KubeObject, O extends ResourceType = ResourceType, N extends boolean = boolean> = (
  obj: Live<T, N>,
  old: Live<T, N> | undefined,
  ctx: HandlerContext<T, O, N>,
) => Promise<void> | void;
export type FieldHandler<T extends KubeObject, O extends ResourceType = ResourceType, N extends boolean = boolean> = (
  obj: Live<T, N>,
  change: { path: string; old: unknown; new: unknown },
  ctx: HandlerContext<T, O, N>,
) => Promise<void> | void;

/**
 * What has been handled, in the object's annotation. Handlers that finished while others of the same change failed
 * are listed in `d`, so that the retry runs only the rest: for a creation, whatever the spec became meanwhile
 * (creation handlers run once per object); for an update or a field change, while the object is still in the
 * state `p` they ran for (a newer change is a new update, and every update handler sees it).
 */
interface Marker {
  /** Digest of the spec last fully handled; absent until the creation handlers all succeeded. */
  s?: string;
  /** Digests of watched fields last fully handled, by path. */
  f: Record<string, string>;
  /** The change whose handlers are part-way: "create", or the digest of the state being handled. */
  p?: string;
  /** Handlers finished for `p`. */
  d: string[];
}

function digest(value: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(value ?? null))
    .digest("base64url")
    .slice(0, 16);
}

/** Reads a dotted path (`spec.replicas`, `metadata.labels.app`). */
export function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The part of an object whose change means "updated": everything but metadata and status. */
function specOf(obj: KubeObject): unknown {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj as KubeObject & { status?: unknown };
  return rest;
}

/**
 * The handlers of a controller, declared inside `controller(...).for(T).handlers((on) => ...)`. Each handler has
 * an id (default: its event and position) under which its completion is remembered.
 */
export class HandlersBuilder<T extends KubeObject, O extends ResourceType = ResourceType, N extends boolean = boolean> {
  private readonly creates: Array<[string, Handler<T, O, N>]> = [];
  private readonly updates: Array<[string, UpdateHandler<T, O, N>]> = [];
  private readonly deletes: Array<[string, Handler<T, O, N>]> = [];
  private readonly fields: Array<[string, string, FieldHandler<T, O, N>]> = [];
  private readonly timers: Array<[string, number, Handler<T, O, N>]> = [];
  private readonly daemons: Array<[string, Handler<T, O, N>]> = [];

  /** Runs once for each new object (and for objects that existed before this operator first saw them). */
  onCreate(handler: Handler<T, O, N>, id = `create${this.creates.length || ""}`): this {
    this.creates.push([id, handler]);
    return this;
  }

  /** Runs when anything outside metadata and status changed since it was last handled. */
  onUpdate(handler: UpdateHandler<T, O, N>, id = `update${this.updates.length || ""}`): this {
    this.updates.push([id, handler]);
    return this;
  }

  /** Runs before the object goes away: a finalizer holds the deletion until every delete handler succeeded. */
  onDelete(handler: Handler<T, O, N>, id = `delete${this.deletes.length || ""}`): this {
    this.deletes.push([id, handler]);
    return this;
  }

  /** Runs when the value at a dotted path changed (e.g. `spec.replicas`), including on creation. */
  onField(path: string, handler: FieldHandler<T, O, N>, id = `field:${path}`): this {
    this.fields.push([id, path, handler]);
    return this;
  }

  /** Runs every `intervalMs` for each live object. */
  timer(intervalMs: number, handler: Handler<T, O, N>, id = `timer${this.timers.length || ""}`): this {
    if (!(intervalMs > 0)) throw new Error("a timer needs a positive interval");
    this.timers.push([id, intervalMs, handler]);
    return this;
  }

  /**
   * Runs `handler` for each live object, in the background, from when the object appears until it is deleted or
   * the operator stops — then `ctx.signal` aborts. A daemon that returns or fails is started again after a pause.
   */
  daemon(handler: Handler<T, O, N>, id = `daemon${this.daemons.length || ""}`): this {
    this.daemons.push([id, handler]);
    return this;
  }

  /** The reconcile of one running instance: its own memory of objects last seen, timers and daemons. */
  instantiate(name: string, type: ResourceType<T>): Behaviour {
    const annotation = `converge.dev/handled.${name}`;
    const finalizer = `converge.dev/${name}`;
    const creates = [...this.creates];
    const updates = [...this.updates];
    const deletes = [...this.deletes];
    const fields = [...this.fields];
    const timers = [...this.timers];
    const daemons = [...this.daemons];
    /** Objects as last handled by this process, for the `old` argument. */
    const lastSeen = new Map<string, Live<T, N>>();
    const timerRuns = new Map<string, number>();
    const running = new Map<string, AbortController>();

    const stopDaemons = (key: string) => {
      running.get(key)?.abort();
      running.delete(key);
    };
    const startDaemons = (key: string, run: RunContext) => {
      if (daemons.length === 0 || running.has(key)) return;
      const controller = new AbortController();
      running.set(key, controller);
      for (const [id, handler] of daemons) {
        void (async () => {
          while (!controller.signal.aborted) {
            try {
              const current = run.base.cache.get(type, key);
              if (!current) break;
              const base = { ...run.base, signal: controller.signal, log: run.base.log.child({ daemon: id }) };
              const ctx = objectContext<T, O, N>(base, type, asLive(current), run.deps);
              await handler(ctx.object, ctx);
            } catch (err) {
              run.base.log.warn({ daemon: id, err: (err as Error).message }, "daemon failed; restarting it");
            }
            if (controller.signal.aborted) break;
            await new Promise((r) => setTimeout(r, 1_000));
          }
        })();
      }
    };

    const reconcile = async (request: Request, run: RunContext): Promise<ReconcileOutcome> => {
      const found = run.base.cache.get(type, request);
      if (!found) {
        stopDaemons(request.key);
        lastSeen.delete(request.key);
        timerRuns.delete(request.key);
        return undefined;
      }
      const ctx = objectContext<T, O, N>(run.base, type, asLive(found), run.deps);
      if (deletes.length > 0 || isDeleting(ctx.object)) {
        const state = await ctx.finalizer(finalizer, async () => {
          stopDaemons(request.key);
          for (const [, handler] of deletes) await handler(ctx.object, ctx);
        });
        if (state === "deleting") {
          stopDaemons(request.key);
          return undefined;
        }
      }

      const obj = ctx.object;
      const marker = parseMarker(obj.metadata.annotations?.[annotation]);
      const specDigest = digest(specOf(obj));
      const fieldDigests = Object.fromEntries(fields.map(([, path]) => [path, digest(readPath(obj, path))]));
      const creating = !marker || marker.s === undefined;
      const change = creating ? "create" : digest([specDigest, fieldDigests]);
      const done = new Set(marker?.p === change ? marker.d : []);
      const old = lastSeen.get(request.key);
      const pending: Array<[string, () => Promise<void> | void]> = [];
      if (creating) for (const [id, h] of creates) pending.push([id, () => h(ctx.object, ctx)]);
      else if (marker.s !== specDigest)
        for (const [id, h] of updates) pending.push([id, () => h(ctx.object, old, ctx)]);
      for (const [id, path, h] of fields) {
        if (marker?.f[path] === fieldDigests[path]) continue;
        const values = { path, old: old ? readPath(old, path) : undefined, new: readPath(obj, path) };
        pending.push([id, () => h(ctx.object, values, ctx)]);
      }
      const before = done.size;
      for (const [id, run] of pending) {
        if (done.has(id)) continue;
        try {
          await run();
        } catch (err) {
          // Remember what already succeeded so that the retry does not repeat it.
          if (done.size > before) {
            await writeMarker(ctx, type, annotation, { ...(marker ?? { f: {} }), p: change, d: [...done] });
          }
          throw err;
        }
        done.add(id);
      }
      const next: Marker = { s: specDigest, f: fieldDigests, d: [] };
      if (!marker || marker.s !== next.s || JSON.stringify(marker.f) !== JSON.stringify(next.f) || marker.p) {
        await writeMarker(ctx, type, annotation, next);
      }
      lastSeen.set(request.key, ctx.object);
      startDaemons(request.key, run);

      if (timers.length === 0) return undefined;
      const now = Date.now();
      let nextDue = Number.POSITIVE_INFINITY;
      for (const [id, interval, handler] of timers) {
        const runKey = `${request.key}\u0000${id}`;
        const last = timerRuns.get(runKey);
        if (last === undefined || now - last >= interval) {
          timerRuns.set(runKey, now);
          await handler(ctx.object, ctx);
          nextDue = Math.min(nextDue, interval);
        } else {
          nextDue = Math.min(nextDue, interval - (now - last));
        }
      }
      return { requeueAfterMs: Math.max(1, Math.round(nextDue)) };
    };

    return {
      reconcile,
      stop: () => {
        for (const key of [...running.keys()]) stopDaemons(key);
      },
    };
  }
}

function parseMarker(text: string | undefined): Marker | undefined {
  if (!text) return undefined;
  try {
    const m = JSON.parse(text) as Partial<Marker>;
    // A marker of an earlier version (no `p`) whose `s` is empty was written by creation handlers part-way.
    return {
      ...(m.s ? { s: m.s } : {}),
      f: m.f ?? {},
      ...(m.p ? { p: m.p } : m.s === "" && m.d?.length ? { p: "create" } : {}),
      d: m.d ?? [],
    };
  } catch {
    return undefined;
  }
}

async function writeMarker<T extends KubeObject>(
  ctx: HandlerContext<T>,
  type: ResourceType<T>,
  annotation: string,
  marker: Marker,
): Promise<void> {
  await ctx.client.patch(type, ctx.request, "merge", {
    metadata: { annotations: { [annotation]: JSON.stringify(marker) } },
  });
}
