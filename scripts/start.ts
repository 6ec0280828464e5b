/**
 * `npm start`: brings up a full local control plane (building the binaries on first use), shows it working
 * with a Deployment that gets Ready pods on the fake node, and keeps it up until Ctrl-C when run in a
 * terminal (with the KUBECONFIG export line to try it). Non-interactive runs, or `npm start -- --exit`, stop
 * after the demo.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ensureBinaries } from "../src/cluster/binaries.ts";
import { ControlPlane } from "../src/cluster/control-plane.ts";

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const plane = await ControlPlane.start({ name: "demo", log: (l) => say(`  ${l}`) });
let stopping = false;
const stop = async (code: number): Promise<never> => {
  if (!stopping) {
    stopping = true;
    say("\nstopping the control plane ...");
    await plane.stop();
    say("stopped; nothing is left running.");
  }
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  const { kubectl } = await ensureBinaries(["kubectl"], { log: (l) => say(`  ${l}`) });
  const k = async (...args: string[]): Promise<string> => {
    const { stdout } = await promisify(execFile)(kubectl?.path ?? "kubectl", [
      "--kubeconfig",
      plane.kubeconfigPath,
      ...args,
    ]);
    return stdout;
  };

  say(`\nkube-apiserver ${plane.server}, kubeconfig ${plane.kubeconfigPath}\n`);
  say("$ kubectl get nodes");
  say(await k("get", "nodes"));

  say("$ kubectl create deployment web --image=nginx:1.27 --replicas=3");
  say(await k("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3"));
  const started = Date.now();
  await k("rollout", "status", "deployment/web", "--timeout=60s");
  say(`(3 pods Ready on the fake node after ${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
  say("$ kubectl get deployments,replicasets,pods -o wide");
  say(await k("get", "deployments,replicasets,pods", "-o", "wide"));

  say("$ kubectl delete deployment web   # its ReplicaSet and pods are garbage-collected");
  say(await k("delete", "deployment", "web", "--wait=true"));
  for (let i = 0; i < 100 && (await k("get", "pods,replicasets", "-o", "name")).trim() !== ""; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  say("$ kubectl get replicasets,pods");
  say((await k("get", "replicasets,pods")).trim() || "No resources found in default namespace.\n");

  if (process.stdout.isTTY && !process.argv.includes("--exit")) {
    say(`The plane stays up until Ctrl-C. In another terminal:\n\n  export KUBECONFIG=${plane.kubeconfigPath}\n`);
    setInterval(() => {}, 1 << 30);
  } else {
    await stop(0);
  }
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  await stop(1);
}
