import { controller, corev1 } from "converge-sdk";
import { NoteCard } from "./api.ts";

/**
 * NoteCard → a ConfigMap named after it with `data.message = spec.message`. The reconcile runs on the live NoteCard:
 * `ctx.apply` writes the ConfigMap with server-side apply, owned by the NoteCard (put back when it is edited or
 * deleted, deleted with the NoteCard, nothing written when it is already right), and `ctx.status` writes the
 * NoteCard's Ready condition only when it changes.
 */
export const noteCardController = controller("notecard")
  .for(NoteCard)
  .owns(corev1.ConfigMap) // watched and cached from the start, part of the generated RBAC, and what ctx.apply takes
  .reconcile(async (noteCard, ctx) => {
    const configMap = await ctx.apply(corev1.ConfigMap, {
      metadata: { name: noteCard.metadata.name },
      data: { message: noteCard.spec.message },
    });
    await ctx.status((_status, conditions) => {
      conditions.set("Ready", true, "ConfigMapApplied", `ConfigMap ${configMap.metadata.name} holds the message`);
    });
  });
