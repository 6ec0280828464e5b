import { cel, celRules, conditions, defineResource, type ObjectOf, Type } from "converge-sdk";

/** The reference material's rules, as messages users see from kubectl (CEL here, and the webhook in webhook.ts). */
export const messages = {
  size: "size must be greater than 0",
  version: "version is required",
} as const;

/**
 * cache.example.com/v1alpha1 Memcached: `spec.size` memcached pods of image `memcached:<spec.version>`, their
 * names in `status.nodes`, and Available / Progressing / Degraded conditions.
 */
export const Memcached = defineResource({
  group: "cache.example.com",
  kind: "Memcached",
  description: "Memcached runs spec.size memcached pods of version spec.version.",
  versions: {
    v1alpha1: {
      spec: Type.Object(
        {
          size: Type.Integer({
            format: "int32",
            description: "Number of memcached pods.",
            ...cel("self > 0", messages.size),
          }),
          // Optional in the schema so that a missing version gets the rule's message, not a bare "Required value".
          version: Type.Optional(Type.String({ description: "memcached image tag, e.g. 1.6.9." })),
        },
        celRules({ rule: "has(self.version) && self.version != ''", message: messages.version, fieldPath: ".version" }),
      ),
      status: Type.Object({
        nodes: Type.Optional(Type.Array(Type.String(), { description: "Names of the memcached pods." })),
        conditions: Type.Optional(conditions({ description: "Available, Progressing and Degraded." })),
      }),
      printerColumns: [
        { name: "Size", type: "integer", jsonPath: ".spec.size" },
        { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Available")].status' },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  },
});

/** A Memcached object, as the client and cache return it. */
export type Memcached = ObjectOf<typeof Memcached>;
