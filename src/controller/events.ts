import type { KubeClient } from "../client/api.ts";
import { isNotFound } from "../client/errors.ts";
import { Event as EventType } from "../types/generated/events.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import type { Logger } from "./logger.ts";

/** MicroTime: RFC 3339 with microseconds, as events.k8s.io requires for eventTime. */
function microTime(d = new Date()): string {
  return `${d.toISOString().slice(0, 23)}000Z`;
}

/** Events for the same object, type, reason, action and note within this window become one Event with a series. */
const seriesWindowMs = 6 * 60 * 1000;

export interface EventRecorderOptions {
  /** `reportingController`, e.g. `example.com/memcached-operator`. */
  controller: string;
  /** `reportingInstance`, e.g. the pod name. */
  instance: string;
  log?: Logger;
}

/**
 * Records events.k8s.io/v1 Events about objects. Repeats of the same event are aggregated into one Event whose
 * `series.count` grows (as client-go's recorder does), so a failing reconcile in a loop does not flood etcd.
 * Recording never blocks or fails a reconcile: writes happen in the background and errors are logged.
 */
export class EventRecorder {
  private readonly client: KubeClient;
  private readonly options: EventRecorderOptions;
  private readonly recent = new Map<string, { namespace: string; name: string; count: number; at: number }>();
  private pending = new Set<Promise<void>>();

  constructor(client: KubeClient, options: EventRecorderOptions) {
    this.client = client;
    this.options = options;
  }

  /** Records an event about `regarding`; `action` says what was done (e.g. `Reconcile`, `Create`). */
  event(
    regarding: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    note: string,
    action = "Reconcile",
    regardingType?: ResourceType,
  ): void {
    const p = this.write(regarding, type, reason, note.slice(0, 1024), action, regardingType)
      .catch((err: Error) => this.options.log?.warn({ err: err.message, reason }, "could not record event"))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits for the events recorded so far to be written (for shutdown and tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async write(
    regarding: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    note: string,
    action: string,
    regardingType?: ResourceType,
  ): Promise<void> {
    const m = regarding.metadata ?? {};
    const namespace = m.namespace || "default";
    const id = [m.uid ?? `${m.namespace}/${m.name}`, type, reason, action, note].join("\u0000");
    const now = Date.now();
    const seen = this.recent.get(id);
    if (seen && now - seen.at < seriesWindowMs) {
      seen.count++;
      seen.at = now;
      try {
        await this.client.patch(EventType, { namespace: seen.namespace, name: seen.name }, "merge", {
          series: { count: seen.count, lastObservedTime: microTime() },
        });
        return;
      } catch (err) {
        // The Event is gone (its TTL ran out, or it was deleted): start the series again with a new one.
        if (!isNotFound(err)) throw err;
        if (this.recent.get(id) === seen) this.recent.delete(id);
      }
    }
    if (this.recent.size > 4096) this.prune(now);
    const name = `${m.name ?? "object"}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    await this.client.create(EventType, {
      metadata: { name, namespace },
      eventTime: microTime(),
      reportingController: this.options.controller,
      reportingInstance: this.options.instance,
      action,
      reason,
      note,
      type,
      regarding: {
        apiVersion: regarding.apiVersion ?? regardingType?.apiVersion,
        kind: regarding.kind ?? regardingType?.kind,
        ...(m.name ? { name: m.name } : {}),
        ...(m.namespace ? { namespace: m.namespace } : {}),
        ...(m.uid ? { uid: m.uid } : {}),
        ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
      },
    });
    // Only a created Event starts a series: after a failed create the next occurrence creates it, not patches it.
    this.recent.set(id, { namespace, name, count: 1, at: now });
  }

  private prune(now: number): void {
    for (const [id, e] of this.recent) if (now - e.at >= seriesWindowMs) this.recent.delete(id);
  }
}
