import { type appsv1, type Live, setControllerReference } from "converge-sdk";
import { defaults, SimpleApp } from "./api.ts";

/** The name of the Deployment's one container. */
export const containerName = "app";

/**
 * The Deployment a SimpleApp asks for: the same name and namespace, labelled and selecting `app: <name>`, one
 * container running `spec.image`, `spec.replicas` pods, and the SimpleApp as its controller owner, so that the
 * garbage collector deletes it with the SimpleApp.
 */
export function desiredDeployment(app: Live<SimpleApp>): appsv1.Deployment & { metadata: { name: string } } {
  const name = app.metadata.name;
  const labels = { app: name };
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: app.metadata.namespace, labels },
    spec: {
      replicas: app.spec.replicas ?? defaults.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: containerName, image: app.spec.image ?? defaults.image }] },
      },
    },
  } satisfies appsv1.Deployment;
  return setControllerReference(app, deployment, SimpleApp);
}

/**
 * How a live Deployment differs from the desired one in the fields the operator sets, one sentence per difference
 * (empty when it is right). Only those fields: a field someone else added is theirs, and applying again would not
 * remove it, so counting it as drift would rewrite the Deployment forever.
 */
export function driftOf(live: appsv1.Deployment | undefined, desired: appsv1.Deployment): string[] {
  const name = desired.metadata?.name;
  if (!live) return [`Deployment ${name} is missing`];
  // Deleted by hand and still going away (foreground deletion): it is recreated once it is gone.
  if (live.metadata?.deletionTimestamp) return [];
  const drift: string[] = [];
  const differs = (what: string, is: unknown, wants: unknown) => {
    if (is !== wants) drift.push(`${what} is ${String(is)}, not ${String(wants)}`);
  };
  differs("label app", live.metadata?.labels?.app, desired.metadata?.labels?.app);
  differs("spec.replicas", live.spec?.replicas, desired.spec?.replicas);
  differs("the pod template's label app", live.spec?.template?.metadata?.labels?.app, name);
  const want = desired.spec?.template?.spec?.containers?.[0];
  const container = live.spec?.template?.spec?.containers?.find((c) => c.name === want?.name);
  if (!container) drift.push(`container ${want?.name} is missing`);
  else differs(`container ${want?.name}'s image`, container.image, want?.image);
  const owner = desired.metadata?.ownerReferences?.[0];
  if (!controlledBy(live, owner?.uid)) drift.push(`Deployment ${name} is not controlled by SimpleApp ${owner?.name}`);
  return drift;
}

/** Whether the object with this uid is the Deployment's controller owner. */
export function controlledBy(deployment: appsv1.Deployment, uid: string | undefined): boolean {
  return uid !== undefined && (deployment.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === uid);
}

/** What changed between two versions of a SimpleApp's spec, for logs and events (`replicas 2 → 3`). */
export function specChanges(old: SimpleApp | undefined, app: SimpleApp): string {
  const now = { replicas: app.spec.replicas ?? defaults.replicas, image: app.spec.image ?? defaults.image };
  if (!old) return `replicas ${now.replicas}, image ${now.image}`;
  const before = { replicas: old.spec.replicas ?? defaults.replicas, image: old.spec.image ?? defaults.image };
  const changes = (["replicas", "image"] as const)
    .filter((f) => before[f] !== now[f])
    .map((f) => `${f} ${before[f]} → ${now[f]}`);
  return changes.length > 0 ? changes.join(", ") : `replicas ${now.replicas}, image ${now.image}`;
}
