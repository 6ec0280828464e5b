import { createCa, issueLeaf, keyPair, type PemPair, privatePem, publicPem } from "../pki/index.ts";

export type { PemPair } from "../pki/index.ts";

/** Everything a local plane needs: written to files for the components and embedded in the kubeconfig. */
export interface PlanePki {
  /** The serving CA: what clients trust (the kubeconfig's `certificate-authority-data`, pods' `kube-root-ca.crt`). */
  ca: PemPair;
  /**
   * The client CA: what the apiserver trusts client certificates from (`--client-ca-file`), and what the
   * controller-manager signs approved CSRs with. Kept apart from the serving CA, as k3s does: a key that can mint
   * identities is not the key clients trust servers by. It also keeps a Node client's handshake small: OpenSSL sends
   * the client certificate's issuer along when it finds it among the trusted CAs, and the apiserver then checks one
   * more signature on every request (measured: a few per cent of its CPU under load, bench/README.md).
   */
  clientCa: PemPair;
  /** kube-apiserver's serving certificate (127.0.0.1, localhost and the in-cluster service names). */
  apiserver: PemPair;
  /** Client certificate of user `converge-admin`, group `system:masters`, issued by the client CA. */
  admin: PemPair;
  /** Signing key for service-account tokens, and its public half for verification. */
  serviceAccount: { privateKey: string; publicKey: string };
}

/** Issues fresh serving and client CAs, serving and client certificates, and service-account keys for one plane. */
export async function createPlanePki(): Promise<PlanePki> {
  const [ca, clientCa] = await Promise.all([
    createCa({ commonName: "converge-local-ca" }),
    createCa({ commonName: "converge-local-client-ca" }),
  ]);
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
    issueLeaf(clientCa, { subject: "CN=converge-admin, O=system:masters", usage: "client" }),
    keyPair(),
  ]);
  return {
    ca,
    clientCa,
    apiserver,
    admin,
    serviceAccount: { privateKey: await privatePem(saKeys), publicKey: await publicPem(saKeys) },
  };
}
