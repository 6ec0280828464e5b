/**
 * The one place where the versions of the local control plane's binaries are pinned.
 * `converge cluster binaries` builds exactly these from Go modules; bump them here and nowhere else.
 */
export const versions = {
  /** kube-apiserver, kube-controller-manager, kube-scheduler (and kubectl when the machine lacks one). */
  kubernetes: "1.37.2",
  /** etcd server; Debian's etcd 3.4 is too old for a 1.37 apiserver. */
  etcd: "3.6.16",
  /** kwok: fake nodes and pods, so workloads become Ready without a container runtime. */
  kwok: "0.8.0",
  /** helm: not part of the plane; built on demand (`ensureBinaries(["helm"])`) to lint and render charts. */
  helm: "3.22.0",
} as const;

/** The staging modules of k8s.io/kubernetes (client-go, apimachinery, ...) are versioned v0.<minor>.<patch>. */
export function stagingVersion(kubernetes: string = versions.kubernetes): string {
  const [major, minor, patch] = kubernetes.split(".");
  if (major !== "1" || minor === undefined || patch === undefined) {
    throw new Error(`unsupported Kubernetes version ${kubernetes}: expected 1.<minor>.<patch>`);
  }
  return `v0.${minor}.${patch}`;
}
