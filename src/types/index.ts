/**
 * The types layer: the wire types of Kubernetes' built-in kinds, generated from a real apiserver's OpenAPI v3 and
 * discovery documents (`node scripts/generate-types.ts`, files in `./generated/`), and `ResourceType`, which
 * addresses a kind. Each group-version is a namespace named like client-go's package aliases:
 *
 * ```ts
 * import { appsv1 } from "../types/index.ts";
 * const d: appsv1.Deployment = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec };
 * appsv1.Deployment.plural; // "deployments": the ResourceType of the same name
 * ```
 *
 * The meta/v1 types that every layer uses are also exported on their own.
 */

export * as admissionregistrationv1 from "./generated/admissionregistration.v1.ts";
export * as apiextensionsv1 from "./generated/apiextensions.v1.ts";
export type { IntOrString, Quantity, RawExtension } from "./generated/apimachinery.ts";
/** Quantity, IntOrString and RawExtension (k8s.io/apimachinery outside meta/v1). */
export * as apimachinery from "./generated/apimachinery.ts";
export * as apiregistrationv1 from "./generated/apiregistration.v1.ts";
export * as appsv1 from "./generated/apps.v1.ts";
export * as authenticationv1 from "./generated/authentication.v1.ts";
export * as authorizationv1 from "./generated/authorization.v1.ts";
export * as autoscalingv1 from "./generated/autoscaling.v1.ts";
export * as autoscalingv2 from "./generated/autoscaling.v2.ts";
export * as batchv1 from "./generated/batch.v1.ts";
export * as certificatesv1 from "./generated/certificates.v1.ts";
export * as coordinationv1 from "./generated/coordination.v1.ts";
export * as corev1 from "./generated/core.v1.ts";
export * as discoveryv1 from "./generated/discovery.v1.ts";
export * as eventsv1 from "./generated/events.v1.ts";
export * as flowcontrolv1 from "./generated/flowcontrol.v1.ts";
export type {
  Condition,
  LabelSelector,
  LabelSelectorRequirement,
  ListMeta,
  ManagedFieldsEntry,
  MicroTime,
  ObjectMeta,
  OwnerReference,
  Preconditions,
  Status,
  StatusCause,
  StatusDetails,
  Time,
} from "./generated/meta.v1.ts";
export * as metav1 from "./generated/meta.v1.ts";
export * as networkingv1 from "./generated/networking.v1.ts";
export * as nodev1 from "./generated/node.v1.ts";
export * as policyv1 from "./generated/policy.v1.ts";
export * as rbacv1 from "./generated/rbac.v1.ts";
export * as resourcev1 from "./generated/resource.v1.ts";
export * as schedulingv1 from "./generated/scheduling.v1.ts";
/** Types of an alpha API that fields of stable kinds refer to (Job's scheduling constraints); no kinds. */
export * as schedulingv1alpha3 from "./generated/scheduling.v1alpha3.ts";
export * as storagev1 from "./generated/storage.v1.ts";
export * as storagemigrationv1 from "./generated/storagemigration.v1.ts";
export * from "./resource.ts";
