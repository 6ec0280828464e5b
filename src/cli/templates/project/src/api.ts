import { conditions, defineResource, type ObjectOf, Type } from "converge-sdk";

/**
 * notes.example.com/v1alpha1 NoteCard: `spec.message` becomes the `data.message` of a ConfigMap of the same name.
 * This one definition gives the TypeScript type, the CRD (`npm run generate` writes it to config/crd/) and
 * client-side validation. Change the spec to what your NoteCard needs.
 */
export const NoteCard = defineResource({
  group: "notes.example.com",
  kind: "NoteCard",
  description: "NoteCard copies spec.message into a ConfigMap of the same name.",
  versions: {
    v1alpha1: {
      spec: Type.Object({
        message: Type.String({ minLength: 1, description: "Copied to the ConfigMap's data.message." }),
      }),
      status: Type.Object({
        conditions: Type.Optional(conditions({ description: "Ready, Progressing and Degraded, from the ConfigMap." })),
      }),
      printerColumns: [
        { name: "Message", type: "string", jsonPath: ".spec.message" },
        { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  },
});

/** A NoteCard object, as the client and the cache return it. */
export type NoteCard = ObjectOf<typeof NoteCard>;
