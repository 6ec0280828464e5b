/**
 * The fake's watches, as the apiserver's watch cache serves them: every stored change fanned out to the open
 * watches whose selectors it concerns (entering or leaving a selection is ADDED or DELETED), a history per kind to
 * resume from a resourceVersion (410 Expired once it is older than the history), initial events, bookmarks and
 * timeouts.
 */
import type { ResourceType } from "../../types/resource.ts";
import type { WatchEvent, WatchOptions } from "../api.ts";
import type { StatusCause } from "../errors.ts";
import { badRequest, cause, invalidError } from "./errors.ts";
import { clone, type Obj, partial } from "./objects.ts";
import { matcher, type ObjMatcher, type StoreEvent } from "./tracker.ts";

interface Watcher {
  matches: ObjMatcher;
  metadataOnly: boolean;
  bookmarks: boolean;
  queue: WatchEvent<unknown>[];
  ended: boolean;
  waiting: (() => void) | undefined;
  /** Ends the watch: no more events are queued; those queued are still delivered. */
  end: () => void;
}

/** The watch side of one kind. */
interface KindWatches {
  type: ResourceType;
  history: StoreEvent[];
  /** resourceVersion of the newest event dropped from the history: watches from before it get 410. */
  floor: number;
  watchers: Set<Watcher>;
}

/** A watch as `open` leaves it: problems with the request are thrown by the stream's first next(). */
export type OpenedWatch = { watcher: Watcher } | { error: unknown };

/** What a watch reads of the store when it opens. */
export interface WatchedStore {
  readonly revision: number;
  sorted(type: ResourceType): Array<[string, Obj]>;
}

const initialEventsEnd = "k8s.io/initial-events-end";

export class Watches {
  private readonly kinds = new Map<string, KindWatches>();
  private compactedRv = 0;
  private readonly historyLimit: number;

  /** `historyLimit`: events kept per kind for resuming watches. */
  constructor(historyLimit: number) {
    this.historyLimit = historyLimit;
  }

  /** Keeps a stored change in its kind's history and delivers it to the kind's open watches. */
  record(type: ResourceType, event: StoreEvent): void {
    const kind = this.kind(type);
    kind.history.push(event);
    while (kind.history.length > this.historyLimit) {
      const dropped = kind.history.shift();
      if (dropped) kind.floor = dropped.rv;
    }
    for (const w of kind.watchers) deliver(w, event);
  }

  /** Sends a BOOKMARK at `rv` to every open watch that allows bookmarks. */
  bookmark(rv: number): void {
    for (const kind of this.kinds.values()) {
      for (const w of kind.watchers) {
        if (!w.bookmarks) continue;
        w.queue.push({ type: "BOOKMARK", object: bookmarkObject(kind.type, rv) });
        notify(w);
      }
    }
  }

  /** Forgets the history, like an etcd compaction at `rv`: resuming from before it gets 410 Expired. */
  compact(rv: number): void {
    this.compactedRv = rv;
    for (const kind of this.kinds.values()) {
      kind.history = [];
      kind.floor = rv;
    }
  }

  /** Ends every open watch cleanly. */
  close(): void {
    for (const kind of this.kinds.values()) {
      for (const w of [...kind.watchers]) w.end();
    }
  }

  /**
   * Opens a watch at once (so that nothing written after watch() returns is missed, bookmarks included); problems
   * with the request are returned, to be thrown by the first next() as the real client's are.
   */
  open(
    type: ResourceType,
    namespace: string | undefined,
    opts: WatchOptions,
    request: string,
    store: WatchedStore,
  ): OpenedWatch {
    try {
      const matches = matcher(namespace, opts.labelSelector, opts.fieldSelector, request);
      if (opts.sendInitialEvents) {
        const problems: StatusCause[] = [];
        if (opts.resourceVersionMatch !== "NotOlderThan") {
          problems.push(
            cause(
              "resourceVersionMatch",
              "FieldValueForbidden",
              "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ),
          );
        }
        if (!opts.allowWatchBookmarks) {
          problems.push(
            cause(
              "allowWatchBookmarks",
              "FieldValueForbidden",
              "Forbidden: sendInitialEvents requires allowWatchBookmarks",
            ),
          );
        }
        if (problems.length) throw invalidError({ kind: "ListOptions", group: "meta.k8s.io" }, "", problems, request);
      }
      const initial = Boolean(opts.sendInitialEvents) || opts.resourceVersion === "0";
      let from = store.revision;
      if (!initial && opts.resourceVersion) {
        if (!/^\d+$/.test(opts.resourceVersion)) {
          throw badRequest(`invalid resource version "${opts.resourceVersion}"`, request);
        }
        from = Number(opts.resourceVersion);
      }
      const kind = this.kind(type);
      const signal = opts.signal;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => w.end();
      const w: Watcher = {
        matches,
        metadataOnly: Boolean(opts.metadataOnly),
        bookmarks: Boolean(opts.allowWatchBookmarks),
        queue: [],
        ended: false,
        waiting: undefined,
        end: () => {
          w.ended = true;
          kind.watchers.delete(w);
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          notify(w);
        },
      };
      if (!initial && from < kind.floor) {
        const status = {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `too old resource version: ${from} (${kind.floor + 1})`,
          reason: "Expired",
          code: 410,
        };
        // One ERROR event, then the stream ends.
        w.queue.push({ type: "ERROR", object: status });
        w.ended = true;
        return { watcher: w };
      }
      kind.watchers.add(w);
      if (initial) {
        for (const [, o] of store.sorted(type)) if (matches(o)) w.queue.push({ type: "ADDED", object: view(w, o) });
        if (opts.sendInitialEvents && w.bookmarks) {
          w.queue.push({
            type: "BOOKMARK",
            object: bookmarkObject(type, store.revision, { [initialEventsEnd]: "true" }),
          });
        }
      } else {
        for (const event of kind.history) if (event.rv > from) deliver(w, event);
      }
      signal?.addEventListener("abort", onAbort);
      if (signal?.aborted) w.end();
      if (opts.timeoutSeconds && opts.timeoutSeconds > 0) {
        timer = setTimeout(() => w.end(), opts.timeoutSeconds * 1000);
        timer.unref();
      }
      return { watcher: w };
    } catch (error) {
      return { error };
    }
  }

  private kind(type: ResourceType): KindWatches {
    const id = `${type.apiVersion}/${type.kind}`;
    let k = this.kinds.get(id);
    if (!k) {
      k = { type, history: [], floor: this.compactedRv, watchers: new Set() };
      this.kinds.set(id, k);
    }
    return k;
  }
}

/**
 * The events of an opened watch as a stream: `start` runs at the first next() (an interceptor may fail the watch
 * there), then events as they come until the watch ends; aborting `signal` throws its reason.
 */
export async function* streamOf<T>(
  opened: OpenedWatch,
  start: () => Promise<void>,
  signal: AbortSignal | undefined,
): AsyncGenerator<WatchEvent<T>> {
  const w = "watcher" in opened ? opened.watcher : undefined;
  try {
    if (signal?.aborted) throw signal.reason;
    await start();
    if (!w) throw (opened as { error: unknown }).error;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const next = w.queue.shift();
      if (next) {
        yield next as WatchEvent<T>;
        continue;
      }
      if (w.ended) return;
      await new Promise<void>((resolve) => {
        w.waiting = resolve;
      });
    }
  } finally {
    w?.end();
  }
}

/** Delivers one change to a watch, as the apiserver's watch cache does for filtered watches. */
function deliver(w: Watcher, event: StoreEvent): void {
  const now = event.type !== "DELETED" && w.matches(event.object);
  const before = event.prev !== undefined && w.matches(event.prev);
  let out: WatchEvent<unknown> | undefined;
  if (now && before) out = { type: "MODIFIED", object: view(w, event.object) };
  else if (now) out = { type: "ADDED", object: view(w, event.object) };
  else if (before && event.type === "DELETED") out = { type: "DELETED", object: view(w, event.object) };
  else if (before && event.prev) {
    // Leaving the selection: the previous state, with the event's resourceVersion.
    const last = clone(event.prev);
    last.metadata.resourceVersion = String(event.rv);
    out = { type: "DELETED", object: view(w, last) };
  }
  if (!out) return;
  w.queue.push(out);
  notify(w);
}

function view(w: Watcher, obj: Obj): unknown {
  return w.metadataOnly ? partial(obj) : clone(obj);
}

function notify(w: Watcher): void {
  const wake = w.waiting;
  w.waiting = undefined;
  wake?.();
}

function bookmarkObject(type: ResourceType, rv: number, annotations?: Record<string, string>): unknown {
  return {
    apiVersion: type.apiVersion,
    kind: type.kind,
    metadata: { resourceVersion: String(rv), ...(annotations ? { annotations } : {}) },
  };
}
