/**
 * How an operator's webhooks are served and reached. In a cluster (the generated Deployment) the server listens
 * on `:9443` behind the `<name>-webhook-service` Service, its certificates live in the Secret
 * `<name>-webhook-certs` (or come from a mounted directory, e.g. cert-manager's), and the CA bundle is written into
 * the configurations the manifests installed. For a local run the apiserver calls `https://127.0.0.1:<port>`, and
 * the configurations are installed (and updated after a CA rollover) by the run itself.
 */
import type { KubeClient } from "../client/api.ts";
import { type ManagerOptions, parseAddress } from "../manager/manager.ts";
import { type CertificateProvider, DirectoryCertificates, SelfSignedCertificates } from "../webhook/certs.ts";
import { injectCaBundle, installWebhooks } from "../webhook/configure.ts";
import type { WebhookServer } from "../webhook/server.ts";
import type { OperatorDefinition } from "./operator.ts";

export type WebhookMode = "cluster" | "local";

/** Names shared by the generated manifests and the running operator. */
export const webhookNames = (op: Pick<OperatorDefinition, "name">) => ({
  service: `${op.name}-webhook-service`,
  secret: `${op.name}-webhook-certs`,
  configurations: op.name,
});

export const hasWebhooks = (op: OperatorDefinition): boolean =>
  (op.webhooks?.length ?? 0) + (op.conversions?.length ?? 0) > 0;

export interface WebhookSetup {
  mode: WebhookMode;
  /** The client that writes the Secret and configurations (read when the server starts). */
  client: () => KubeClient;
  env?: NodeJS.ProcessEnv;
  /** Certificates to serve instead of the ones chosen from the mode and environment. */
  certificates?: CertificateProvider;
}

/**
 * The manager's `webhook` options for `op`. Environment: `CONVERGE_WEBHOOK_ADDRESS` (host:port),
 * `CONVERGE_WEBHOOK_CERT_DIR` (bring your own certificates), `POD_NAMESPACE` (where the Secret and Service are;
 * default: the operator's namespace).
 */
export function webhookOptions(op: OperatorDefinition, setup: WebhookSetup): NonNullable<ManagerOptions["webhook"]> {
  const { mode, client, env = process.env } = setup;
  const names = webhookNames(op);
  const namespace = env.POD_NAMESPACE ?? op.namespace ?? `${op.name}-system`;
  const address = parseAddress(env.CONVERGE_WEBHOOK_ADDRESS ?? (mode === "local" ? "127.0.0.1:0" : ":9443"));
  let certificates: CertificateProvider;
  if (setup.certificates) {
    certificates = setup.certificates;
  } else if (env.CONVERGE_WEBHOOK_CERT_DIR) {
    certificates = new DirectoryCertificates(env.CONVERGE_WEBHOOK_CERT_DIR);
  } else if (mode === "local") {
    certificates = new SelfSignedCertificates({ dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  } else {
    const dns = `${names.service}.${namespace}.svc`;
    certificates = new SelfSignedCertificates({
      dnsNames: [dns, `${dns}.cluster.local`],
      secret: { client, namespace, name: names.secret },
    });
  }
  const selfSigned = certificates instanceof SelfSignedCertificates;
  const publish = async (server: WebhookServer, caBundle: string) => {
    const common = {
      name: names.configurations,
      webhooks: server.webhooks,
      conversions: op.conversions ?? [],
      caBundle,
    };
    if (mode === "local") {
      await installWebhooks(client(), { ...common, endpoint: { url: `https://127.0.0.1:${server.port}` } });
    } else if (selfSigned) {
      await injectCaBundle(client(), {
        ...common,
        conversionEndpoint: { service: { name: names.service, namespace, port: 443 } },
      });
    }
  };
  return {
    ...address,
    certificates,
    onServing: async (server) => {
      await publish(server, certificates.current().caBundle);
      let last = certificates.current().caBundle;
      certificates.onChange((c) => {
        if (c.caBundle === last) return;
        last = c.caBundle;
        publish(server, c.caBundle).catch((err: unknown) => {
          process.emitWarning(`webhook CA bundle not updated: ${(err as Error).message}`);
        });
      });
    },
  };
}
