/**
 * A `node --test --test-global-setup=<this file>` module: starts one plane for the whole test run and hands it
 * to every test file through `CONVERGE_TEST_KUBECONFIG`. Nothing is started when that variable is already set
 * or `CONVERGE_TEST_USE_EXISTING_CLUSTER=true`.
 */
import { ControlPlane } from "../cluster/control-plane.ts";

let plane: ControlPlane | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env.CONVERGE_TEST_KUBECONFIG || process.env.CONVERGE_TEST_USE_EXISTING_CLUSTER === "true") return;
  const mode = process.env.CONVERGE_TEST_PLANE_MODE === "minimal" ? "minimal" : "full";
  plane = await ControlPlane.start({ name: "test", mode, log: (l) => process.stderr.write(`# ${l}\n`) });
  process.env.CONVERGE_TEST_KUBECONFIG = plane.kubeconfigPath;
}

export async function globalTeardown(): Promise<void> {
  await plane?.stop();
}
