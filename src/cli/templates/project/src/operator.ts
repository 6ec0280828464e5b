import { defineOperator } from "converge-sdk";
import { NoteCard } from "./api.ts";
import { noteCardController } from "./controller.ts";
// +converge:scaffold:imports

/**
 * The notecard-operator operator as tools see it: the custom resources it defines, the controllers it runs, how it is
 * deployed. `converge generate` writes its CRDs from this; src/main.ts runs it. `converge create api` adds new
 * kinds above the marker comments.
 */
export default defineOperator({
  name: "notecard-operator",
  version: "0.1.0",
  description: "NoteCard: spec.message becomes a ConfigMap's data.message.",
  definitions: [
    NoteCard,
    // +converge:scaffold:definitions
  ],
  controllers: [
    noteCardController,
    // +converge:scaffold:controllers
  ],
});
