import type { appsv1, Desired, Live } from "converge-sdk";
import type { Memcached } from "./api.ts";

export const instance = "app.kubernetes.io/instance";
export const managedBy = { "app.kubernetes.io/managed-by": "memcached-operator" };

/** The labels of a Memcached's pods: how its Deployment selects them and how their events find their Memcached. */
export const podLabels = (m: Live<Memcached>) => ({
  "app.kubernetes.io/name": "memcached",
  [instance]: m.metadata.name,
  ...managedBy,
});

/** The Deployment a Memcached wants (the fields it owns; ctx.apply adds the owner reference). */
export const deploymentFor = (m: Live<Memcached>): Desired<appsv1.Deployment> => ({
  metadata: { name: m.metadata.name, labels: podLabels(m) },
  spec: {
    replicas: m.spec.size,
    selector: { matchLabels: podLabels(m) },
    template: {
      metadata: { labels: podLabels(m) },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1001, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
          {
            name: "memcached",
            image: `memcached:${m.spec.version}`,
            command: ["memcached", "--memory-limit=64", "-o", "modern", "-v"],
            ports: [{ name: "memcached", containerPort: 11211 }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          },
        ],
      },
    },
  },
});
