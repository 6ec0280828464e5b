import {
  apiextensionsv1,
  isAlreadyExists,
  type KubeClient,
  type ResourceDefinition,
  storagemigrationv1,
  type VersionDefinition,
} from "converge-sdk";

/** Any definition: only its names are read. */
type Definition = Pick<
  ResourceDefinition<string, Record<string, VersionDefinition>, string>,
  "group" | "plural" | "version"
>;

/**
 * After a CRD's storage version changed (v1alpha1 → v1beta1), objects written before stay stored in the old
 * version until something rewrites them, and the old version cannot be dropped from the CRD while
 * `status.storedVersions` lists it. A StorageVersionMigration (storagemigration.k8s.io/v1, run by
 * kube-controller-manager's storage-version-migrator) rewrites every object through the apiserver — converted by
 * the operator's webhook — and then sets `storedVersions` to the storage version alone.
 *
 * Returns at once when there is nothing to migrate; otherwise creates the migration (once: its name is the
 * idempotency key) and waits until it succeeded.
 */
export async function migrateStorage(
  client: KubeClient,
  definition: Definition,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<"up to date" | "migrated"> {
  const crdName = `${definition.plural}.${definition.group}`;
  const storage = definition.version;
  const stored = async () =>
    (await client.get(apiextensionsv1.CustomResourceDefinition, crdName)).status?.storedVersions ?? [];
  if ((await stored()).every((v) => v === storage)) return "up to date";
  const name = `${crdName}-${storage}`;
  try {
    await client.create(storagemigrationv1.StorageVersionMigration, {
      metadata: { name },
      spec: { resource: { group: definition.group, resource: definition.plural } },
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  for (;;) {
    const migration = await client.get(storagemigrationv1.StorageVersionMigration, name);
    const conditions = migration.status?.conditions ?? [];
    if (conditions.some((c) => c.type === "Failed" && c.status === "True"))
      throw new Error(`storage migration ${name} failed: ${conditions.map((c) => c.message).join("; ")}`);
    if (
      conditions.some((c) => c.type === "Succeeded" && c.status === "True") &&
      (await stored()).every((v) => v === storage)
    )
      return "migrated";
    if (Date.now() > deadline || options.signal?.aborted) throw new Error(`storage migration ${name} did not finish`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
