import {
  type AdmissionDecision,
  type AdmissionRequest,
  allow,
  deny,
  type FieldCause,
  validatingWebhook,
} from "converge-sdk";
import { Memcached, messages } from "./api.ts";

/** size > 0 and a version: the decision for one request. */
export function validateMemcached({ object }: Pick<AdmissionRequest<Memcached>, "object">): AdmissionDecision {
  if (!object) return allow();
  const causes: FieldCause[] = [];
  if (!(object.spec.size > 0)) causes.push({ field: "spec.size", message: messages.size });
  if (!object.spec.version)
    causes.push({ field: "spec.version", message: messages.version, reason: "FieldValueRequired" });
  return causes.length === 0 ? allow() : deny(causes.map((c) => c.message).join("; "), causes);
}

/**
 * The same rules as the schema's CEL, as a validating webhook: what a rule needs when CEL cannot express it (a
 * look at other objects, say). Here it also shows the webhook's shape: typed object in, decision out.
 */
export const memcachedWebhook = validatingWebhook(Memcached, { validate: validateMemcached });
