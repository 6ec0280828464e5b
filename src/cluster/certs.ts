import { createCa, issueLeaf, keyPair, type PemPair, privatePem, publicPem } from "../pki/index.ts";

export type { PemPair } from "../pki/index.ts";

/** Everything a local plane needs: written to files for the components and embedded in the kubeconfig. */
export interface PlanePki {
  ca: PemPair;
  /** kube-apiserver's serving certificate (127.0.0.1, localhost and the in-cluster service names). */
  apiserver: PemPair;
  /** Client certificate of user `converge-admin`, group `system:masters`. */
  admin: PemPair;
  /** Signing key for service-account tokens, and its public half for verification. */
  serviceAccount: { privateKey: string; publicKey: string };
}

/** Issues a fresh CA, serving and client certificates, and service-account keys for one plane. */
export async function createPlanePki(): Promise<PlanePki> {
  const ca = await createCa({ commonName: "converge-local-ca" });
  const [apiserver, admin, saKeys] = await Promise.all([
    issueLeaf(ca, {
      subject: "CN=kube-apiserver",
      usage: "server",
      dns: [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
      ],
      // 10.0.0.1 is the first address of the service range: the in-cluster `kubernetes` Service.
      ips: ["127.0.0.1", "10.0.0.1"],
    }),
    issueLeaf(ca, { subject: "CN=converge-admin, O=system:masters", usage: "client" }),
    keyPair(),
  ]);
  return {
    ca,
    apiserver,
    admin,
    serviceAccount: { privateKey: await privatePem(saKeys), publicKey: await publicPem(saKeys) },
  };
}
