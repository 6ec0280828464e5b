import { randomBytes } from "node:crypto";
import {
  controllerOf,
  corev1,
  isAlreadyExists,
  isNotFound,
  type Live,
  type ObjectContext,
  type ResourceType,
  setControllerReference,
} from "converge-sdk";
import { MySQLCluster } from "../api/cluster.ts";
import { names, selectorLabels } from "../names.ts";
import { secretKeys } from "./workload.ts";

/** What the credentials functions need of a reconcile: the cache, the client and events. */
type Context = Pick<ObjectContext<MySQLCluster, ResourceType, true>, "cache" | "client" | "event">;

const password = () => randomBytes(24).toString("base64url");
const base64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/**
 * Makes sure the credentials Secret exists. Passwords are generated only when it is created, with `create` (never
 * an apply, which would write new ones each time), so an existing Secret is never overwritten. A Secret deleted by
 * hand is made again — self-healing — with new passwords, which the agent of each server sets in MySQL through its
 * local socket (on the local plane no server runs); the event says so.
 */
export async function ensureCredentials(cluster: Live<MySQLCluster, true>, ctx: Context): Promise<void> {
  const namespace = cluster.metadata.namespace;
  const name = names(cluster.metadata.name).credentials;
  const key = { namespace, name };
  // The cache is the fast path; a miss is checked against the apiserver: a miss must never mean "regenerate".
  if (ctx.cache.get(corev1.Secret, key)) return;
  const existing = await ctx.client.get(corev1.Secret, key).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (existing) return;
  const secret = setControllerReference(
    cluster,
    {
      metadata: { name, namespace, labels: selectorLabels(cluster.metadata.name) },
      type: "Opaque",
      data: { [secretKeys.rootPassword]: base64(password()), [secretKeys.replicationPassword]: base64(password()) },
    },
    MySQLCluster,
  );
  try {
    await ctx.client.create(corev1.Secret, secret);
  } catch (err) {
    if (isAlreadyExists(err)) return;
    throw err;
  }
  const first = cluster.status?.primary === undefined;
  ctx.event(
    first ? "Normal" : "Warning",
    first ? "CredentialsCreated" : "CredentialsRecreated",
    first
      ? `generated passwords in Secret ${name}`
      : `Secret ${name} was missing: generated new passwords (the agents set them in MySQL)`,
    { action: "Create" },
  );
}

/**
 * On deletion with `storage.whenDeleted: Retain`: the data volumes stay, so the credentials that open them stay
 * too — the owner reference is removed, and the garbage collector leaves the Secret.
 */
export async function releaseCredentials(cluster: Live<MySQLCluster, true>, ctx: Context): Promise<void> {
  const key = { namespace: cluster.metadata.namespace, name: names(cluster.metadata.name).credentials };
  const secret = await ctx.client.get(corev1.Secret, key).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!secret || controllerOf(secret)?.uid !== cluster.metadata.uid) return;
  const ownerReferences = (secret.metadata?.ownerReferences ?? []).filter((r) => r.uid !== cluster.metadata.uid);
  await ctx.client.patch(corev1.Secret, key, "merge", {
    metadata: { resourceVersion: secret.metadata?.resourceVersion, ownerReferences },
  });
  ctx.event("Normal", "CredentialsRetained", `kept Secret ${key.name} with the data volumes`, { action: "Delete" });
}
