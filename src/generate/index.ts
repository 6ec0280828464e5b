/**
 * The generate layer: what `converge generate` writes from an operator definition (CRDs, RBAC, manifests, chart),
 * and the logic that writes it.
 */
import { crdGenerator, type Generator } from "./generator.ts";

export {
  contextFor,
  crdGenerator,
  type GenerateContext,
  type GeneratedFile,
  type Generator,
  yamlFile,
} from "./generator.ts";
export {
  type FileChange,
  type GenerateOptions,
  type GenerateReport,
  generatedHeader,
  loadOperator,
  planGenerate,
  renderFiles,
  runGenerate,
} from "./run.ts";

/** Every generator `converge generate` runs, in this order; a new generator is one more entry. */
export const generators: readonly Generator[] = [crdGenerator];
