/**
 * Validating and mutating admission webhooks, declared next to a resource type: a typed handler gets the new and
 * old objects, the operation, the user and whether it is a dry run, and answers allow / deny (with field causes)
 * / warnings, or — for a mutating webhook — the object as it should be, from which the JSON patch is computed.
 */

import { jsonPatch } from "../client/patch.ts";
import type { MatchCondition } from "../types/generated/admissionregistration.v1.ts";
import type { LabelSelector } from "../types/generated/meta.v1.ts";
import type { KubeObject, ResourceType } from "../types/resource.ts";
import type { AdmissionRequestWire, AdmissionResponseWire, Operation, UserInfo } from "./review.ts";

/** What an admission handler is asked. */
export interface AdmissionRequest<T extends KubeObject> {
  uid: string;
  operation: Operation;
  /** The object as it would be stored (CREATE, UPDATE); undefined for DELETE. */
  object: T | undefined;
  /** The object as it is stored (UPDATE, DELETE). */
  oldObject: T | undefined;
  name: string | undefined;
  namespace: string | undefined;
  subResource: string | undefined;
  userInfo: UserInfo;
  /** True for `kubectl --dry-run=server`: the handler must cause no side effect. */
  dryRun: boolean;
}

/** A field-level reason for a denial, shown by kubectl like a schema error (`spec.size: Invalid value...`). */
export interface FieldCause {
  field: string;
  message: string;
  /** `FieldValueInvalid` (default), `FieldValueRequired`, `FieldValueForbidden`, ... */
  reason?: string;
}

export type AdmissionDecision =
  | { allowed: true; warnings?: string[] }
  | { allowed: false; message: string; causes?: FieldCause[]; code?: number; warnings?: string[] };

/** Admits the request, with optional warnings for the user. */
export const allow = (...warnings: string[]): AdmissionDecision =>
  warnings.length > 0 ? { allowed: true, warnings } : { allowed: true };

/**
 * Denies the request with a message and, optionally, the fields at fault (kubectl shows
 * `admission webhook "<name>" denied the request: <message> (<field>: <why>)`).
 */
export const deny = (message: string, causes?: FieldCause[]): AdmissionDecision => ({
  allowed: false,
  message,
  ...(causes?.length ? { causes } : {}),
});

/** What a mutating handler returns: the object as it should be (or undefined for no change), or a denial. */
export type MutationResult<T> =
  | T
  | undefined
  | { object?: T; warnings?: string[] }
  | Extract<AdmissionDecision, { allowed: false }>;

interface WebhookOptions {
  /**
   * The webhook's name in its configuration: a fully qualified name with at least three segments. Default
   * `v<kind>.<group>` (validating) or `m<kind>.<group>` (mutating), lower case.
   */
  name?: string;
  /** Operations to intercept (default CREATE and UPDATE). */
  operations?: Operation[];
  /** What the apiserver does when the webhook cannot be reached: `Fail` (default) or `Ignore`. */
  failurePolicy?: "Fail" | "Ignore";
  /** `None` (default): the handler has no side effects; `NoneOnDryRun`: none when `dryRun` is true. */
  sideEffects?: "None" | "NoneOnDryRun";
  /** 1–30 s (default 10). */
  timeoutSeconds?: number;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  /** CEL conditions on the request; the webhook is called only when all are true. */
  matchConditions?: MatchCondition[];
  /** Include the status and scale subresources (default: the main resource only). */
  subresources?: Array<"status" | "scale">;
}

export interface AdmissionWebhook {
  readonly type: "validating" | "mutating";
  readonly name: string;
  /** URL path on the webhook server, e.g. `/validate-cache-example-com-v1alpha1-memcached`. */
  readonly path: string;
  readonly resource: ResourceType;
  readonly options: Readonly<WebhookOptions>;
  /** Answers one request (never throws for the handler's own errors: they become a denial). */
  review(request: AdmissionRequestWire): Promise<AdmissionResponseWire>;
}

function pathFor(prefix: string, t: ResourceType): string {
  return `/${prefix}-${t.group.replace(/\./g, "-") || "core"}-${t.version}-${t.kind.toLowerCase()}`;
}

function defaultName(prefix: string, t: ResourceType): string {
  return `${prefix}${t.kind.toLowerCase()}.${t.group || "core.k8s.io"}`;
}

function checkName(name: string): string {
  if (name.split(".").length < 3 || !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(name)) {
    throw new Error(`webhook name "${name}" must be a fully qualified DNS name with at least three segments`);
  }
  return name;
}

function typedRequest<T extends KubeObject>(r: AdmissionRequestWire): AdmissionRequest<T> {
  return {
    uid: r.uid,
    operation: r.operation,
    object: (r.object ?? undefined) as T | undefined,
    oldObject: (r.oldObject ?? undefined) as T | undefined,
    name: r.name,
    namespace: r.namespace,
    subResource: r.subResource,
    userInfo: r.userInfo,
    dryRun: r.dryRun === true,
  };
}

/**
 * The denial as the apiserver passes it on. Forbidden (403) unless the handler says otherwise, with the causes
 * in the message too: kubectl prints the message of a 403, but only the causes of a 422, and the user should see
 * both the webhook's words and the fields.
 */
function denial(uid: string, d: Extract<AdmissionDecision, { allowed: false }>): AdmissionResponseWire {
  const code = d.code ?? 403;
  const causes = d.causes ?? [];
  const detail = causes.map((c) => `${c.field}: ${c.message}`).join(", ");
  return {
    uid,
    allowed: false,
    status: {
      code,
      message: detail ? `${d.message} (${detail})` : d.message,
      reason: code === 422 ? "Invalid" : code === 403 ? "Forbidden" : "BadRequest",
      ...(causes.length
        ? {
            details: {
              causes: causes.map((c) => ({
                field: c.field,
                message: c.message,
                reason: c.reason ?? "FieldValueInvalid",
              })),
            },
          }
        : {}),
    },
    ...(d.warnings?.length ? { warnings: d.warnings } : {}),
  };
}

/** A handler that threw: denied with its message, so a bug never admits an object by accident (failure is closed). */
function crashed(uid: string, err: unknown): AdmissionResponseWire {
  const message = err instanceof Error ? err.message : String(err);
  return { uid, allowed: false, status: { code: 500, message: `webhook error: ${message}`, reason: "InternalError" } };
}

/** A validating webhook for `type`: `validate` decides whether each request is admitted. */
export function validatingWebhook<T extends KubeObject>(
  type: ResourceType<T>,
  options: WebhookOptions & {
    validate: (request: AdmissionRequest<T>) => AdmissionDecision | Promise<AdmissionDecision>;
  },
): AdmissionWebhook {
  const { validate, ...rest } = options;
  return Object.freeze({
    type: "validating",
    name: checkName(rest.name ?? defaultName("v", type)),
    path: pathFor("validate", type),
    resource: type,
    options: rest,
    async review(r: AdmissionRequestWire): Promise<AdmissionResponseWire> {
      try {
        const d = await validate(typedRequest<T>(r));
        if (!d.allowed) return denial(r.uid, d);
        return { uid: r.uid, allowed: true, ...(d.warnings?.length ? { warnings: d.warnings } : {}) };
      } catch (err) {
        return crashed(r.uid, err);
      }
    },
  } as const);
}

/**
 * A mutating webhook for `type`: `mutate` gets a copy of the object to change (and return), and the difference
 * is sent back as a JSON patch. Return undefined for no change, or `deny(...)`.
 */
export function mutatingWebhook<T extends KubeObject>(
  type: ResourceType<T>,
  options: WebhookOptions & {
    mutate: (object: T, request: AdmissionRequest<T>) => MutationResult<T> | Promise<MutationResult<T>>;
  },
): AdmissionWebhook {
  const { mutate, ...rest } = options;
  return Object.freeze({
    type: "mutating",
    name: checkName(rest.name ?? defaultName("m", type)),
    path: pathFor("mutate", type),
    resource: type,
    options: rest,
    async review(r: AdmissionRequestWire): Promise<AdmissionResponseWire> {
      try {
        const request = typedRequest<T>(r);
        const original = request.object;
        if (!original) return { uid: r.uid, allowed: true };
        const result = await mutate(structuredClone(original), request);
        if (isDenial(result)) return denial(r.uid, result);
        const { object, warnings } = isWrapped<T>(result) ? result : { object: result, warnings: undefined };
        const ops = object === undefined ? [] : jsonPatch(original, object);
        return {
          uid: r.uid,
          allowed: true,
          ...(ops.length
            ? { patchType: "JSONPatch" as const, patch: Buffer.from(JSON.stringify(ops)).toString("base64") }
            : {}),
          ...(warnings?.length ? { warnings } : {}),
        };
      } catch (err) {
        return crashed(r.uid, err);
      }
    },
  } as const);
}

function isDenial(v: unknown): v is Extract<AdmissionDecision, { allowed: false }> {
  return typeof v === "object" && v !== null && (v as { allowed?: unknown }).allowed === false;
}

function isWrapped<T>(v: unknown): v is { object?: T; warnings?: string[] } {
  if (typeof v !== "object" || v === null) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k === "object" || k === "warnings");
}
