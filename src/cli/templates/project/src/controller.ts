import { child, controller, corev1 } from "converge-sdk";
import { NoteCard } from "./api.ts";

/**
 * NoteCard → a ConfigMap named after it with `data.message = spec.message`, declared as the NoteCard's child:
 * Converge applies it (writing nothing when it is already right), puts it back when it is edited or deleted,
 * reports Ready/Progressing/Degraded on the NoteCard, and deletes it with the NoteCard.
 */
export const noteCardController = () =>
  controller("notecard")
    .for(NoteCard)
    .owns(corev1.ConfigMap) // declared: watched and cached from the start, and part of the generated RBAC
    .children((noteCard) => [
      child(corev1.ConfigMap, {
        metadata: { name: noteCard.metadata?.name },
        data: { message: noteCard.spec.message },
      }),
    ]);
