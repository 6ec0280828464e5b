/**
 * The wire format of AdmissionReview (admission.k8s.io/v1) and ConversionReview (apiextensions.k8s.io/v1). These
 * are not served resources, so they are absent from the OpenAPI the built-in types are generated from: written
 * here by hand, with a reader that names the first field that is wrong instead of trusting the body.
 */
import type { KubeObject } from "../types/resource.ts";

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/** Who sent the request the apiserver asks about. */
export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AdmissionRequestWire {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  requestKind?: { group: string; version: string; kind: string };
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  options?: KubeObject | null;
}

export interface StatusCause {
  field?: string;
  message?: string;
  reason?: string;
}

export interface AdmissionResponseWire {
  uid: string;
  allowed: boolean;
  status?: {
    code?: number;
    message?: string;
    reason?: string;
    details?: { causes?: StatusCause[] };
  };
  patch?: string;
  patchType?: "JSONPatch";
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface ConversionRequestWire {
  uid: string;
  desiredAPIVersion: string;
  objects: KubeObject[];
}

export interface ConversionResponseWire {
  uid: string;
  convertedObjects: KubeObject[];
  result: { status: "Success" | "Failure"; message?: string };
}

/** A request body that is not a review this server can answer: a 400 with this message. */
export class BadReviewError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function need(cond: boolean, message: string): asserts cond {
  if (!cond) throw new BadReviewError(message);
}

/** Reads an admission.k8s.io/v1 AdmissionReview request, or throws a BadReviewError naming what is wrong. */
export function readAdmissionReview(body: unknown): AdmissionRequestWire {
  need(isObject(body), "body: expected a JSON object");
  need(
    body.apiVersion === "admission.k8s.io/v1" && body.kind === "AdmissionReview",
    `expected apiVersion admission.k8s.io/v1, kind AdmissionReview; got ${String(body.apiVersion)}, ${String(body.kind)}`,
  );
  const req = body.request;
  need(isObject(req), "request: Required value");
  need(typeof req.uid === "string" && req.uid !== "", "request.uid: Required value");
  need(
    typeof req.operation === "string" && ["CREATE", "UPDATE", "DELETE", "CONNECT"].includes(req.operation),
    `request.operation: Unsupported value: ${JSON.stringify(req.operation)}`,
  );
  need(isObject(req.kind) && typeof req.kind.kind === "string", "request.kind: Required value");
  need(isObject(req.resource) && typeof req.resource.resource === "string", "request.resource: Required value");
  need(req.object == null || isObject(req.object), "request.object: expected an object");
  need(req.oldObject == null || isObject(req.oldObject), "request.oldObject: expected an object");
  need(req.userInfo === undefined || isObject(req.userInfo), "request.userInfo: expected an object");
  return { ...(req as unknown as AdmissionRequestWire), userInfo: (req.userInfo ?? {}) as UserInfo };
}

/** Reads an apiextensions.k8s.io/v1 ConversionReview request, or throws a BadReviewError naming what is wrong. */
export function readConversionReview(body: unknown): ConversionRequestWire {
  need(isObject(body), "body: expected a JSON object");
  need(
    body.apiVersion === "apiextensions.k8s.io/v1" && body.kind === "ConversionReview",
    `expected apiVersion apiextensions.k8s.io/v1, kind ConversionReview; got ${String(body.apiVersion)}, ${String(body.kind)}`,
  );
  const req = body.request;
  need(isObject(req), "request: Required value");
  need(typeof req.uid === "string" && req.uid !== "", "request.uid: Required value");
  need(
    typeof req.desiredAPIVersion === "string" && req.desiredAPIVersion.includes("/"),
    "request.desiredAPIVersion: expected group/version",
  );
  need(Array.isArray(req.objects), "request.objects: expected a list");
  req.objects.forEach((o, i) => {
    need(isObject(o) && typeof o.apiVersion === "string", `request.objects[${i}].apiVersion: Required value`);
    need(typeof o.kind === "string", `request.objects[${i}].kind: Required value`);
  });
  return req as unknown as ConversionRequestWire;
}

export const admissionReview = (response: AdmissionResponseWire) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response,
});

export const conversionReview = (response: ConversionResponseWire) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "ConversionReview",
  response,
});
