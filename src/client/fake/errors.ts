/** The fake's failures: the same typed ApiErrors, with the same Status bodies, as the apiserver's. */
import type { ResourceType } from "../../types/resource.ts";
import { type ApiError, apiErrorFor, type StatusBody, type StatusCause } from "../errors.ts";
import type { Obj } from "./objects.ts";

/** Builds an ApiError shaped like the apiserver's, for interceptors: e.g. `fakeApiError(409, "Conflict", ...)`. */
export function fakeApiError(
  code: number,
  reason: string,
  message: string,
  details?: StatusBody["details"],
  request = "FAKE",
): ApiError {
  return apiErrorFor(
    code,
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    },
    request,
  );
}

function qualifiedResource(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

function resourceDetails(type: ResourceType, name: string): NonNullable<StatusBody["details"]> {
  return { name, ...(type.group ? { group: type.group } : {}), kind: type.plural };
}

/** A failure about one object of a kind: the message names the resource, the details the object. */
function objectError(
  code: number,
  reason: string,
  type: ResourceType,
  name: string,
  message: (resource: string) => string,
  request: string,
): ApiError {
  return fakeApiError(code, reason, message(qualifiedResource(type)), resourceDetails(type, name), request);
}

export function notFound(type: ResourceType, name: string, request: string): ApiError {
  return objectError(404, "NotFound", type, name, (r) => `${r} "${name}" not found`, request);
}

export function noSuchResource(request: string): ApiError {
  return fakeApiError(404, "NotFound", "the server could not find the requested resource", undefined, request);
}

export function alreadyExists(type: ResourceType, name: string, request: string): ApiError {
  return objectError(409, "AlreadyExists", type, name, (r) => `${r} "${name}" already exists`, request);
}

export function conflict(type: ResourceType, name: string, why: string, request: string): ApiError {
  return objectError(
    409,
    "Conflict",
    type,
    name,
    (r) => `Operation cannot be fulfilled on ${r} "${name}": ${why}`,
    request,
  );
}

/** A delete's or write's precondition (a uid or a resourceVersion) that the stored object does not meet. */
export function preconditionFailed(
  type: ResourceType,
  name: string,
  what: "UID" | "ResourceVersion",
  precondition: string,
  actual: string | undefined,
  request: string,
): ApiError {
  return conflict(
    type,
    name,
    `Precondition failed: ${what} in precondition: ${precondition}, ${what} in object meta: ${actual}`,
    request,
  );
}

export function badRequest(message: string, request: string): ApiError {
  return fakeApiError(400, "BadRequest", message, undefined, request);
}

/** A patch that cannot be applied (a failed JSON Patch `test`, a path that does not exist). */
export function patchRejected(message: string, request: string): ApiError {
  return fakeApiError(
    422,
    "Invalid",
    "the server rejected our request due to an error in our request",
    { causes: [{ message }] },
    request,
  );
}

export function cause(field: string, reason: string, message: string): StatusCause {
  return { reason, message, field };
}

export function invalidError(
  kind: { kind: string; group: string },
  name: string,
  causes: StatusCause[],
  request: string,
): ApiError {
  const qualifiedKind = kind.group ? `${kind.kind}.${kind.group}` : kind.kind;
  const lines = causes.map((c) => `${c.field}: ${c.message}`);
  const list = lines.length === 1 ? lines[0] : `[${lines.join(", ")}]`;
  return fakeApiError(
    422,
    "Invalid",
    `${qualifiedKind} "${name}" is invalid: ${list}`,
    { name, ...(kind.group ? { group: kind.group } : {}), kind: kind.kind, causes },
    request,
  );
}

/** The answer to a delete that removed the object at once. */
export function successStatus(type: ResourceType, obj: Obj): StatusBody {
  // Built apart from the return so that `metadata: {}`, which the apiserver sends and StatusBody leaves out, is kept.
  const body = {
    kind: "Status" as const,
    apiVersion: "v1",
    metadata: {},
    status: "Success" as const,
    details: {
      ...resourceDetails(type, obj.metadata.name ?? ""),
      ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
    },
  };
  return body;
}
