/**
 * Installs the HelloWorld CRD into the cluster of the current KUBECONFIG (e.g. one from `converge cluster up`) and
 * runs the operator until Ctrl-C.
 */
import { apiextensionsv1, Client, Manager } from "converge";
import { HelloWorld } from "./api.ts";
import { helloWorldController } from "./controller.ts";

const client = await Client.connect({ fieldManager: "hello-world-operator" });
const crd = HelloWorld.crd();
await client.apply(apiextensionsv1.CustomResourceDefinition, crd, { force: true });
for (let i = 0; ; i++) {
  const current = await client.get(apiextensionsv1.CustomResourceDefinition, crd.metadata?.name ?? "");
  if (current.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
  if (i > 100) throw new Error("the HelloWorld CRD did not become established");
  await new Promise((r) => setTimeout(r, 100));
}
console.error(
  `installed ${crd.metadata?.name}; running the operator against ${client.transport.config.server} (Ctrl-C stops it)`,
);

const manager = await Manager.create({ name: "hello-world-operator", client, probeAddress: "127.0.0.1:0" });
manager.add(helloWorldController());
await manager.start({ handleSignals: true });
await client.close();
