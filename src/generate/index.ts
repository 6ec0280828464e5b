/**
 * The generate layer: what `converge generate` writes from an operator definition (CRDs, RBAC, manifests, chart),
 * and the logic that writes it.
 */
import { makeChartGenerator } from "./chart.ts";
import { makeDeployGenerator } from "./deploy.ts";
import { crdGenerator, type Generator } from "./generator.ts";
import { monitoringGenerator } from "./monitoring.ts";
import { olmGenerator } from "./olm.ts";
import { rbacGenerator, rbacObjects } from "./rbac.ts";

export { BuildError, type BuildOptions, type BuildResult, buildOperator, runtimeNodeFlags } from "./build.ts";
export { chartFiles, makeChartGenerator } from "./chart.ts";
export { bundleObjects, deploymentObjects, dockerfile, makeDeployGenerator } from "./deploy.ts";
export {
  contextFor,
  crdGenerator,
  type GenerateContext,
  type GeneratedFile,
  type Generator,
  yamlFile,
} from "./generator.ts";
export {
  type CrdDocuments,
  checkCrd,
  crdsFromYaml,
  ImportError,
  type ImportedModule,
  type ImportOptions,
  importCrd,
  importCrds,
  importHeader,
  type LocatedCrd,
} from "./import.ts";
export {
  dashboard,
  type GrafanaDashboard,
  monitoringFiles,
  monitoringGenerator,
  serviceMonitorObject,
  serviceMonitorTemplate,
} from "./monitoring.ts";
export { olmBundleFiles, olmGenerator, validateBundle } from "./olm.ts";
export { rbacGenerator, rbacObjects, rulesFor } from "./rbac.ts";
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
export { webhookClusterRules, webhookConfigurationObjects, webhookNamespaceRules } from "./webhook.ts";

/** Every generator `converge generate` runs, in this order; a new generator is one more entry. */
export const generators: readonly Generator[] = [
  crdGenerator,
  rbacGenerator,
  makeDeployGenerator(rbacObjects),
  makeChartGenerator(rbacObjects),
  olmGenerator,
  monitoringGenerator,
];
