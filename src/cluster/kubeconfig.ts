import { stringify } from "yaml";
import type { ClusterCredentials } from "./http.ts";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

/** A kubeconfig with the admin client certificate embedded, so the file alone is enough to connect. */
export function kubeconfigYaml(
  name: string,
  creds: Required<Pick<ClusterCredentials, "server" | "caCert" | "clientCert" | "clientKey">>,
): string {
  const context = `converge-${name}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: context, cluster: { server: creds.server, "certificate-authority-data": b64(creds.caCert) } }],
    users: [
      {
        name: `${context}-admin`,
        user: { "client-certificate-data": b64(creds.clientCert), "client-key-data": b64(creds.clientKey) },
      },
    ],
    contexts: [{ name: context, context: { cluster: context, user: `${context}-admin`, namespace: "default" } }],
    "current-context": context,
    preferences: {},
  });
}
