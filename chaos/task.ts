/**
 * The chaos suite's custom resource and its ledger. A `Task` asks for one side effect per step: when
 * `spec.step` moves to n, the operator must leave exactly one effect for (task, n) — a ConfigMap made with
 * `generateName`, so that the apiserver never deduplicates it — and then record `status.applied = n`. The
 * effects are the ledger: none for the final step means an effect was lost, two for any step means one was done
 * twice, and the `writer` label says which replica made it.
 */
import { defineResource, Type } from "../src/definition/index.ts";
import type { corev1, ObjectOf } from "../src/types/index.ts";

export const Task = defineResource({
  group: "chaos.converge.dev",
  kind: "Task",
  versions: {
    v1: {
      spec: Type.Object({ step: Type.Integer({ minimum: 0 }) }),
      status: Type.Object({ applied: Type.Optional(Type.Integer()) }),
    },
  },
});
export type Task = ObjectOf<typeof Task>;

export const label = {
  task: "chaos.converge.dev/task",
  step: "chaos.converge.dev/step",
  writer: "chaos.converge.dev/writer",
  /** Children of the prune scenario. */
  child: "chaos.converge.dev/child",
} as const;

/** The selector of the effects of one task's step. */
export const effectSelector = (task: string, step: number): string => `${label.task}=${task},${label.step}=${step}`;

/** The effect of one step, as every peer writes it. */
export function effectFor(task: Task, writer: string): corev1.ConfigMap {
  return {
    metadata: {
      generateName: `effect-${task.metadata?.name}-`,
      namespace: task.metadata?.namespace,
      labels: { [label.task]: task.metadata?.name ?? "", [label.step]: String(task.spec.step), [label.writer]: writer },
    },
  };
}

export const taskName = (i: number): string => `task-${String(i).padStart(5, "0")}`;
