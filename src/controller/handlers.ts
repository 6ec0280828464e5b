import { createHash } from "node:crypto";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import { type Controller, ControllerBuilder, type ControllerOptions } from "./controller.ts";
import { handleFinalizer, isDeleting } from "./finalizers.ts";
import type { Predicate } from "./predicates.ts";
import type { ReconcileContext } from "./reconcile.ts";

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

export interface HandlerContext<T extends KubeObject> extends ReconcileContext<T> {
  /** The object being handled (as read at the start of this run). */
  object: T;
}

export type Handler<T extends KubeObject> = (obj: T, ctx: HandlerContext<T>) => Promise<void> | void;
export type UpdateHandler<T extends KubeObject> = (
  obj: T,
  old: T | undefined,
  ctx: HandlerContext<T>,
) => Promise<void> | void;
export type FieldHandler<T extends KubeObject> = (
  obj: T,
  change: { path: string; old: unknown; new: unknown },
  ctx: HandlerContext<T>,
) => Promise<void> | void;

interface Marker {
  /** Digest of the spec last fully handled. */
  s: string;
  /** Digests of watched fields, by path. */
  f: Record<string, string>;
  /** Handlers finished for the spec digest being handled (so a retry does not repeat them). */
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

export class HandlersBuilder<T extends KubeObject> {
  private readonly name: string;
  private readonly type: ResourceType<T>;
  private readonly creates: Array<[string, Handler<T>]> = [];
  private readonly updates: Array<[string, UpdateHandler<T>]> = [];
  private readonly deletes: Array<[string, Handler<T>]> = [];
  private readonly fields: Array<[string, string, FieldHandler<T>]> = [];
  private readonly timers: Array<[string, number, Handler<T>]> = [];
  private readonly daemons: Array<[string, Handler<T>]> = [];
  private options: ControllerOptions = {};
  private predicates: Predicate<T>[] = [];
  private readonly owned: Array<[ResourceType, { optional?: boolean }]> = [];

  constructor(name: string, type: ResourceType<T>) {
    this.name = name;
    this.type = type;
  }

  /** Runs once for each new object (and for objects that existed before this operator first saw them). */
  onCreate(handler: Handler<T>, id = `create${this.creates.length || ""}`): this {
    this.creates.push([id, handler]);
    return this;
  }

  /** Runs when anything outside metadata and status changed since it was last handled. */
  onUpdate(handler: UpdateHandler<T>, id = `update${this.updates.length || ""}`): this {
    this.updates.push([id, handler]);
    return this;
  }

  /** Runs before the object goes away: a finalizer holds the deletion until every delete handler succeeded. */
  onDelete(handler: Handler<T>, id = `delete${this.deletes.length || ""}`): this {
    this.deletes.push([id, handler]);
    return this;
  }

  /** Runs when the value at a dotted path changed (e.g. `spec.replicas`), including on creation. */
  onField(path: string, handler: FieldHandler<T>, id = `field:${path}`): this {
    this.fields.push([id, path, handler]);
    return this;
  }

  /** Runs every `intervalMs` for each live object. */
  timer(intervalMs: number, handler: Handler<T>, id = `timer${this.timers.length || ""}`): this {
    if (!(intervalMs > 0)) throw new Error("a timer needs a positive interval");
    this.timers.push([id, intervalMs, handler]);
    return this;
  }

  /**
   * Runs `handler` for each live object, in the background, from when the object appears until it is deleted or
   * the operator stops — then `ctx.signal` aborts. A daemon that returns or fails is started again after a pause.
   */
  daemon(handler: Handler<T>, id = `daemon${this.daemons.length || ""}`): this {
    this.daemons.push([id, handler]);
    return this;
  }

  /** Children created by handlers, so that their changes re-run the handlers' checks (as `owns`). */
  owns(type: ResourceType, opts: { optional?: boolean } = {}): this {
    this.owned.push([type, opts]);
    return this;
  }

  withPredicates(...predicates: Predicate<T>[]): this {
    this.predicates = predicates;
    return this;
  }

  withOptions(options: ControllerOptions): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  build(): Controller<T> {
    const { name, type } = this;
    const annotation = `converge.dev/handled.${name}`;
    const finalizer = `converge.dev/${name}`;
    const creates = [...this.creates];
    const updates = [...this.updates];
    const deletes = [...this.deletes];
    const fields = [...this.fields];
    const timers = [...this.timers];
    const daemons = [...this.daemons];
    /** Objects as last handled by this process, for the `old` argument. */
    const lastSeen = new Map<string, T>();
    const timerRuns = new Map<string, number>();
    const running = new Map<string, AbortController>();

    const stopDaemons = (key: string) => {
      running.get(key)?.abort();
      running.delete(key);
    };
    const startDaemons = (key: string, ctx: HandlerContext<T>) => {
      if (daemons.length === 0 || running.has(key)) return;
      const controller = new AbortController();
      running.set(key, controller);
      for (const [id, handler] of daemons) {
        void (async () => {
          while (!controller.signal.aborted) {
            try {
              const current = ctx.cache.get(type, key);
              if (!current) break;
              await handler(current, {
                ...ctx,
                object: current,
                signal: controller.signal,
                log: ctx.log.child({ daemon: id }),
              });
            } catch (err) {
              ctx.log.warn({ daemon: id, err: (err as Error).message }, "daemon failed; restarting it");
            }
            if (controller.signal.aborted) break;
            await new Promise((r) => setTimeout(r, 1_000));
          }
        })();
      }
    };

    let builder = new ControllerBuilder(name).for(type, { predicates: this.predicates });
    for (const [o, opts] of this.owned) builder = builder.owns(o, opts);
    const built = builder.withOptions(this.options).reconcile(async (req, rctx) => {
      const obj = rctx.object;
      if (!obj) {
        stopDaemons(req.key);
        lastSeen.delete(req.key);
        timerRuns.delete(req.key);
        return undefined;
      }
      const ctx: HandlerContext<T> = { ...rctx, object: obj };
      if (deletes.length > 0 || isDeleting(obj)) {
        const { state } = await handleFinalizer(rctx.client, type, obj, finalizer, async () => {
          stopDaemons(req.key);
          for (const [, handler] of deletes) await handler(obj, ctx);
        });
        if (state === "deleting") {
          stopDaemons(req.key);
          return undefined;
        }
        if (deletes.length > 0 && !obj.metadata?.finalizers?.includes(finalizer)) return undefined; // re-run on the patched object
      }

      const marker = parseMarker(obj.metadata?.annotations?.[annotation]);
      const specDigest = digest(specOf(obj));
      const fieldDigests = Object.fromEntries(fields.map(([, path]) => [path, digest(readPath(obj, path))]));
      const old = lastSeen.get(req.key);
      const done = new Set(marker && marker.s === specDigest ? marker.d : []);
      const pending: Array<[string, () => Promise<void> | void]> = [];
      if (!marker) for (const [id, h] of creates) pending.push([id, () => h(obj, ctx)]);
      else if (marker.s !== specDigest) for (const [id, h] of updates) pending.push([id, () => h(obj, old, ctx)]);
      for (const [id, path, h] of fields) {
        if (marker?.f[path] === fieldDigests[path]) continue;
        pending.push([
          id,
          () => h(obj, { path, old: old ? readPath(old, path) : undefined, new: readPath(obj, path) }, ctx),
        ]);
      }
      for (const [id, run] of pending) {
        if (done.has(id)) continue;
        try {
          await run();
        } catch (err) {
          // Remember what already succeeded so that the retry does not repeat it.
          if (done.size > 0)
            await writeMarker(ctx, type, annotation, { s: marker?.s ?? "", f: marker?.f ?? {}, d: [...done] });
          throw err;
        }
        done.add(id);
      }
      const next: Marker = { s: specDigest, f: fieldDigests, d: [] };
      if (
        !marker ||
        marker.s !== next.s ||
        JSON.stringify(marker.f) !== JSON.stringify(next.f) ||
        marker.d.length > 0
      ) {
        await writeMarker(ctx, type, annotation, next);
      }
      lastSeen.set(req.key, obj);
      startDaemons(req.key, ctx);

      if (timers.length === 0) return undefined;
      const now = Date.now();
      let nextDue = Number.POSITIVE_INFINITY;
      for (const [id, interval, handler] of timers) {
        const runKey = `${req.key}\u0000${id}`;
        const last = timerRuns.get(runKey);
        if (last === undefined || now - last >= interval) {
          timerRuns.set(runKey, now);
          await handler(obj, ctx);
          nextDue = Math.min(nextDue, interval);
        } else {
          nextDue = Math.min(nextDue, interval - (now - last));
        }
      }
      return { requeueAfterMs: Math.max(1, Math.round(nextDue)) };
    });
    built.onStop(() => {
      for (const key of [...running.keys()]) stopDaemons(key);
    });
    return built;
  }
}

function parseMarker(text: string | undefined): Marker | undefined {
  if (!text) return undefined;
  try {
    const m = JSON.parse(text) as Partial<Marker>;
    return { s: m.s ?? "", f: m.f ?? {}, d: m.d ?? [] };
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

/** Starts a handler-style controller for one kind. */
export function handlers<T extends KubeObject>(name: string, type: ResourceType<T>): HandlersBuilder<T> {
  return new HandlersBuilder(name, type);
}
