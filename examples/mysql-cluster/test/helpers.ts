/**
 * What the end-to-end tests share: the plane, a client, the operator's controllers in a manager scoped to one
 * test's namespace (test files run at once under `npm test`; each operator sees its own namespace only), and
 * waits on clusters, pods and backups.
 */
import { readFile } from "node:fs/promises";
import {
  Client,
  corev1,
  eventsv1,
  installCrds,
  isNotFound,
  type KubeObject,
  Manager,
  type ResourceType,
} from "converge-sdk";
import { eventually, silentLogger, testPlane } from "converge-sdk/testing";
import { parse } from "yaml";
import { MySQLBackup } from "../src/api/backup.ts";
import { MySQLCluster } from "../src/api/cluster.ts";
import { backupController } from "../src/backup/controller.ts";
import { clusterController } from "../src/cluster/controller.ts";
import { labels, selectorLabels } from "../src/names.ts";
import operator from "../src/operator.ts";
import { restoreController } from "../src/restore/controller.ts";

export const plane = await testPlane();
export const client = await Client.connect({ kubeconfig: plane.kubeconfig, fieldManager: "mysql-cluster-test" });
await installCrds(client, operator);

export const sample = parse(
  await readFile(new URL("../config/samples/db_v1beta1_mysqlcluster.yaml", import.meta.url), "utf8"),
) as MySQLCluster;

type After = { after: (fn: () => Promise<void>) => void };

/** The three controllers in a manager that sees only `namespace`; stopped after the test (or by the function). */
export async function startOperator(t: After, namespace: string) {
  const manager = await Manager.create({ name: "mysql-cluster-operator", client, namespace, log: silentLogger });
  manager.add(clusterController);
  manager.add(backupController);
  manager.add(restoreController);
  const running = manager.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await manager.stop();
    await running;
  };
  t.after(stop);
  return { manager, stop };
}

/** A small cluster: `readReplicas` replicas, test-speed timings unless `spec` says otherwise. */
export function smallCluster(namespace: string, name: string, spec: Partial<MySQLCluster["spec"]> = {}): MySQLCluster {
  return {
    metadata: { name, namespace },
    spec: {
      version: "8.0",
      readReplicas: { min: 2 },
      upgrade: { podReadyTimeoutSeconds: 60 },
      failover: { primaryUnreadySeconds: 2 },
      backup: { timeoutSeconds: 20, backoffSeconds: 1 },
      ...spec,
    },
  };
}

export const clusterWhen = (
  namespace: string,
  name: string,
  check: (c: MySQLCluster) => boolean,
  what: string,
  timeoutMs = 60_000,
) =>
  eventually(
    `MySQLCluster ${name}: ${what}`,
    async () => {
      const c = await client.get(MySQLCluster, { namespace, name });
      return check(c) ? c : undefined;
    },
    timeoutMs,
  );

export const isReady = (c: MySQLCluster) =>
  c.status?.phase === "Ready" &&
  c.status.conditions?.some(
    (x) => x.type === "Ready" && x.status === "True" && x.observedGeneration === c.metadata?.generation,
  ) === true;

export const readyCluster = (namespace: string, name: string, timeoutMs?: number) =>
  clusterWhen(namespace, name, isReady, "Ready", timeoutMs);

export async function podsOf(namespace: string, cluster: string): Promise<corev1.Pod[]> {
  const list = await client.list(corev1.Pod, { namespace, labelSelector: `${labels.instance}=${cluster}` });
  void selectorLabels;
  return list.items.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
}

export async function backupsOf(namespace: string, cluster: string): Promise<MySQLBackup[]> {
  return (await client.list(MySQLBackup, { namespace, labelSelector: `${labels.cluster}=${cluster}` })).items;
}

export async function eventsOf(namespace: string, reason?: string): Promise<eventsv1.Event[]> {
  const list = await client.list(eventsv1.Event, { namespace });
  return list.items.filter((e) => reason === undefined || e.reason === reason);
}

export const gone = <T extends KubeObject>(type: ResourceType<T>, namespace: string, name: string) =>
  eventually(`${type.kind} ${name} to be gone`, () =>
    client.get(type, { namespace, name }).then(
      () => undefined,
      (err: unknown) => isNotFound(err) || undefined,
    ),
  );

/**
 * Records every distinct value `pick` takes on the namespace's objects of `type`, in order: their values now,
 * then from the list's resourceVersion on (so nothing written after the call is missed), resumed if the watch ends.
 */
export async function recordChanges<T extends KubeObject>(
  type: ResourceType<T>,
  namespace: string,
  pick: (obj: T) => string | undefined,
) {
  const seen: string[] = [];
  const abort = new AbortController();
  const list = await client.list(type, { namespace });
  for (const item of list.items) {
    const value = pick(item);
    if (value !== undefined && seen.at(-1) !== value) seen.push(value);
  }
  let resourceVersion = list.metadata?.resourceVersion;
  void (async () => {
    while (!abort.signal.aborted) {
      try {
        for await (const event of client.watch(type, { namespace, resourceVersion, signal: abort.signal })) {
          resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
          const value = pick(event.object);
          if (value !== undefined && seen.at(-1) !== value) seen.push(value);
        }
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  return { seen, stop: () => abort.abort() };
}

/**
 * How many times an Event of `reason` was recorded in the namespace (series included), once at least `atLeast`
 * were: Events are written in the background, after the status a test waits on.
 */
export async function eventCount(namespace: string, reason: string, atLeast = 1): Promise<number> {
  const count = async () => (await eventsOf(namespace, reason)).reduce((n, e) => n + (e.series?.count ?? 1), 0);
  await eventually(`${atLeast} ${reason} Event(s)`, async () => (await count()) >= atLeast);
  return count();
}
