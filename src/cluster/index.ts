/**
 * `converge-sdk/cluster`: a real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok fake nodes) on 127.0.0.1, built from Go modules and cached outside the work tree.
 */
export {
  type BinaryName,
  type BinaryOptions,
  cacheDirs,
  ensureBinaries,
  findBinary,
  type ResolvedBinaries,
  type ResolvedBinary,
} from "./binaries.ts";
export {
  type ComponentStatus,
  ControlPlane,
  type ControlPlaneOptions,
  type PlaneMode,
} from "./control-plane.ts";
export { type ClusterCredentials, type JsonResponse, PlaneHttp } from "./http.ts";
export {
  type DownResult,
  downNamed,
  type NamedStatus,
  statusNamed,
  type UpOptions,
  type UpResult,
  upNamed,
} from "./named.ts";
export { cacheRoot, planeDir, stateRoot } from "./paths.ts";
export { boundToParentDeath } from "./process.ts";
export { extraStages, holdAnnotation } from "./stages.ts";
export type { ComponentState, PlaneState } from "./state.ts";
export { versions } from "./versions.ts";
