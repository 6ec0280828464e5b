import { randomBytes } from "node:crypto";
import {
  byLabel,
  controller,
  controllerOf,
  corev1,
  type Desired,
  isAlreadyExists,
  isNotFound,
  type KubeClient,
  type KubeObject,
  type Live,
  type ObjectContext,
  type ResourceType,
  setControllerReference,
  TerminalError,
} from "converge-sdk";
import { deletionPolicyOf, MySQL } from "./api.ts";
import { commonLabels, instanceLabel, namesOf } from "./names.ts";
import { bytesOf } from "./quantity.ts";

/**
 * The MySQL's data: the credentials Secret, the data volume and the backup volume. They live longer than the
 * server (`spec.deletionPolicy: Retain` keeps them when the MySQL is deleted), so they are kept apart from the
 * declared children of the `mysql` controller, which are always deleted with their parent: this controller owns
 * them, and its finalizer decides on deletion whether they are released or deleted.
 */

/** Keys of the credentials Secret. */
export const secretKeys = { rootPassword: "root-password", password: "password" } as const;

/** Held on every MySQL until its data has been released (Retain) or deleted (Delete). */
export const dataFinalizer = "operators.example.com/data";

/** The context of the data controller's reconciles: the kinds it owns are the ones it applies. */
type DataContext = ObjectContext<MySQL, typeof corev1.Secret | typeof corev1.PersistentVolumeClaim, true>;

/** A new random password: 24 bytes from the system's CSPRNG, 32 URL-safe characters (no quoting needed). */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

const base64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** Whether an object was made for a MySQL of this name by this operator (and so may be taken back). */
function madeFor(obj: KubeObject, mysql: Live<MySQL>): boolean {
  return obj.metadata?.labels?.[instanceLabel] === mysql.metadata.name;
}

async function read<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType<T>,
  key: { namespace: string; name: string },
): Promise<T | undefined> {
  try {
    return await client.get(type, key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Makes sure the credentials Secret exists. Passwords are generated only when the Secret is created, and the Secret
 * is created with `create` (never an apply), so that an existing Secret — made by an earlier run, another replica,
 * or before a Retain deletion — is never overwritten: an AlreadyExists error means someone else was first, and their
 * passwords are the ones kept. The passwords are written to the Secret only: never logged, never in status or events.
 */
export async function ensureCredentials(mysql: Live<MySQL, true>, ctx: DataContext): Promise<void> {
  const namespace = mysql.metadata.namespace;
  const name = namesOf(mysql).credentials;
  const key = { namespace, name };
  // The cache is the fast path; a miss is checked against the apiserver, since a miss must never mean "regenerate".
  let secret = ctx.cache.get(corev1.Secret, key) ?? (await read(ctx.client, corev1.Secret, key));
  if (!secret) {
    const fresh: corev1.Secret = setControllerReference(
      mysql,
      {
        metadata: { name, namespace, labels: commonLabels(mysql, "credentials") },
        type: "Opaque",
        data: {
          [secretKeys.rootPassword]: base64(generatePassword()),
          [secretKeys.password]: base64(generatePassword()),
        },
      },
      MySQL,
    );
    try {
      await ctx.client.create(corev1.Secret, fresh);
      ctx.event("Normal", "CredentialsCreated", `generated passwords in Secret ${name}`, { action: "Create" });
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      secret = await ctx.client.get(corev1.Secret, key);
    }
  }
  if (!madeFor(secret, mysql)) {
    const message = `Secret ${name} exists and was not made for this MySQL; rename or remove it`;
    ctx.event("Warning", "CredentialsConflict", message, { action: "Adopt" });
    throw new TerminalError(message);
  }
  // Take it back after a Retain deletion, and fill in a key removed by hand; existing passwords are left alone.
  const missing = Object.values(secretKeys).filter((k) => !secret.data?.[k]);
  const controlled = controllerOf(secret)?.uid === mysql.metadata.uid;
  if (controlled && missing.length === 0) return;
  const owned = setControllerReference(mysql, { metadata: { ...secret.metadata } }, MySQL);
  await ctx.client.patch(corev1.Secret, key, "merge", {
    metadata: { resourceVersion: secret.metadata?.resourceVersion, ownerReferences: owned.metadata?.ownerReferences },
    ...(missing.length ? { data: Object.fromEntries(missing.map((k) => [k, base64(generatePassword())])) } : {}),
  });
  if (!controlled) ctx.event("Normal", "Adopted", `took back Secret ${name}`, { action: "Adopt" });
}

/** A volume claim of `storage` (ReadWriteOnce, the cluster's default StorageClass). */
export function volumeClaim(
  mysql: Live<MySQL>,
  name: string,
  component: string,
  storage = mysql.spec.storageSize,
): Desired<corev1.PersistentVolumeClaim> {
  return {
    metadata: { name, labels: commonLabels(mysql, component) },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } },
  };
}

/**
 * Applies a volume claim (server-side apply: an existing claim, even one kept after a Retain deletion, is taken back
 * and grown if `storageSize` grew). A claim the apiserver refuses (shrinking, or growing where the StorageClass does
 * not allow it) is reported as a Warning event and left as it is: the server keeps running on the volume it has.
 */
async function ensureVolume(mysql: Live<MySQL, true>, ctx: DataContext, name: string, component: string) {
  const live = ctx.cache.get(corev1.PersistentVolumeClaim, { namespace: mysql.metadata.namespace, name });
  if (live && !madeFor(live, mysql)) {
    const message = `PersistentVolumeClaim ${name} exists and was not made for this MySQL; rename or remove it`;
    ctx.event("Warning", "VolumeConflict", message, { action: "Adopt" });
    throw new TerminalError(message);
  }
  // The apiserver keeps the size as written; compared as bytes, "1Gi" and "1024Mi" are the same claim.
  const size = live?.spec?.resources?.requests?.storage;
  const sameSize = size !== undefined && bytesOf(size) === bytesOf(mysql.spec.storageSize);
  try {
    await ctx.apply(corev1.PersistentVolumeClaim, volumeClaim(mysql, name, component, sameSize ? size : undefined));
  } catch (err) {
    if (isNotFound(err) || !live) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    ctx.event("Warning", "VolumeNotResized", `${name}: ${reason}`, { action: "Resize" });
  }
}

/**
 * On deletion: Delete removes the Secret and both volumes; Retain removes this MySQL's owner reference from them,
 * so the garbage collector leaves them, and a MySQL created again with the same name takes them back.
 */
async function releaseOrDelete(mysql: Live<MySQL, true>, ctx: DataContext): Promise<void> {
  const namespace = mysql.metadata.namespace;
  const names = namesOf(mysql);
  const policy = deletionPolicyOf(mysql);
  const kept: string[] = [];
  const items: Array<[ResourceType, string]> = [
    [corev1.Secret, names.credentials],
    [corev1.PersistentVolumeClaim, names.data],
    [corev1.PersistentVolumeClaim, names.backup],
  ];
  for (const [type, name] of items) {
    const key = { namespace, name };
    const live = await read(ctx.client, type, key);
    if (!live || controllerOf(live)?.uid !== mysql.metadata.uid) continue;
    if (policy === "Delete") {
      try {
        await ctx.client.delete(type, key, { propagationPolicy: "Background" });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      continue;
    }
    const others = (live.metadata?.ownerReferences ?? []).filter((r) => r.uid !== mysql.metadata.uid);
    await ctx.client.patch(type, key, "merge", {
      metadata: { resourceVersion: live.metadata?.resourceVersion, ownerReferences: others.length ? others : null },
    });
    kept.push(`${type.kind} ${name}`);
  }
  if (kept.length) {
    ctx.log.info({ kept }, "kept the data of a deleted MySQL (deletionPolicy Retain)");
    ctx.event("Normal", "DataRetained", `kept ${kept.join(", ")}`, { action: "Delete" });
  }
}

/** Maps an object labelled for a MySQL to that MySQL's key. */
export const byInstanceLabel = byLabel(instanceLabel);

/**
 * The `mysql-data` controller: credentials created once, the data volume, the backup volume while backups are
 * scheduled (and kept after that: it holds backups), and the deletion policy.
 */
export const dataController = controller("mysql-data")
  .for(MySQL)
  .owns(corev1.Secret)
  .owns(corev1.PersistentVolumeClaim)
  .reconcile(async (mysql, ctx) => {
    if ((await ctx.finalizer(dataFinalizer, () => releaseOrDelete(mysql, ctx))) === "deleting") return;
    const names = namesOf(mysql);
    await ensureCredentials(mysql, ctx);
    await ensureVolume(mysql, ctx, names.data, "data");
    const backupVolume = ctx.cache.get(corev1.PersistentVolumeClaim, {
      namespace: mysql.metadata.namespace,
      name: names.backup,
    });
    if (mysql.spec.backupSchedule || backupVolume) await ensureVolume(mysql, ctx, names.backup, "backup");
  });
