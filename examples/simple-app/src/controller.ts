import { appsv1, controller, isNotFound } from "converge-sdk";
import { SimpleApp } from "./api.ts";
import { controlledBy, desiredDeployment, driftOf, specChanges } from "./deployment.ts";

export interface SimpleAppControllerOptions {
  /** How often each SimpleApp's Deployment is compared with what it should be, and put right (default 5 s). */
  driftCheckMs?: number;
}

/**
 * SimpleApp → a Deployment of the same name, written in the handler style kopf users know: a handler on create,
 * one on update (which patches the Deployment), one on delete, and a timer that puts the Deployment back when
 * it was edited or deleted by hand. Handlers run once per change of the spec; what was handled is remembered in
 * the `converge.dev/handled.simpleapp` annotation, so a restart does not run them again.
 *
 * The Deployment carries the SimpleApp as its controller owner, so the garbage collector deletes it with the
 * SimpleApp. The delete handler also deletes it at once: the collector learns about a newly installed kind only
 * at its periodic discovery resync, and until then a SimpleApp's Deployment outlives it (by more than 30 s in our
 * runs). As in kopf, having a delete handler puts a finalizer on the SimpleApp, which holds its deletion until
 * the handler has run; if the operator is gone and the finalizer is removed by hand, the ownerReference still
 * takes the Deployment away.
 */
export const simpleAppController = (options: SimpleAppControllerOptions = {}) =>
  controller("simpleapp")
    .for(SimpleApp)
    .owns(appsv1.Deployment) // cached from the start (the timer reads it there) and part of the generated RBAC
    .handlers((on) =>
      on
        .onCreate(async (app, ctx) => {
          await ctx.apply(appsv1.Deployment, desiredDeployment(app));
          const note = `created Deployment ${app.metadata.name}: ${specChanges(undefined, app)}`;
          ctx.log.info(note);
          ctx.event("Normal", "Created", note, { action: "Create" });
        })
        .onUpdate(async (app, old, ctx) => {
          await ctx.apply(appsv1.Deployment, desiredDeployment(app));
          const note = `patched Deployment ${app.metadata.name}: ${specChanges(old, app)}`;
          ctx.log.info(note);
          ctx.event("Normal", "Updated", note, { action: "Update" });
        })
        .onDelete(async (app, ctx) => {
          const live = ctx.cache.get(appsv1.Deployment, ctx.request);
          // Only its own Deployment, and only the one it saw: the uid precondition fails if it was replaced meanwhile.
          if (live && controlledBy(live, app.metadata.uid)) {
            await ctx.client
              .delete(appsv1.Deployment, ctx.request, { preconditions: { uid: live.metadata?.uid } })
              .catch((err: unknown) => {
                if (!isNotFound(err)) throw err;
              });
          }
          const note = `deleted Deployment ${app.metadata.name}`;
          ctx.log.info(note);
          ctx.event("Normal", "Deleted", note, { action: "Delete" });
        })
        .timer(
          options.driftCheckMs ?? 5_000,
          async (app, ctx) => {
            const desired = desiredDeployment(app);
            // From the cache: a check that finds nothing wrong costs no request.
            const drift = driftOf(ctx.cache.get(appsv1.Deployment, ctx.request), desired);
            if (drift.length === 0) return;
            await ctx.apply(appsv1.Deployment, desired);
            const note = `put Deployment ${app.metadata.name} right: ${drift.join("; ")}`;
            ctx.log.info(note);
            ctx.event("Warning", "DriftRepaired", note, { action: "Repair" });
          },
          "drift",
        ),
    );
