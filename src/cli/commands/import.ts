/**
 * `converge import`: typed definitions for third-party custom resources, from CRD YAML files or URLs, or from the
 * CRDs installed in the current cluster.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { Client } from "../../client/client.ts";
import { isNotFound } from "../../client/errors.ts";
import { crdsFromYaml, ImportError, importCrd, type LocatedCrd } from "../../generate/import.ts";
import { CustomResourceDefinition } from "../../types/generated/apiextensions.v1.ts";
import { type ClusterOptions, connection } from "../cluster-options.ts";
import { shown } from "../output.ts";

interface ImportCommandOptions extends ClusterOptions {
  dir?: string;
  out: string;
  fromCluster?: boolean;
  from: string;
}

/** The text of a file, or of an http(s) URL. */
async function readSource(source: string): Promise<string> {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source).catch((err: Error) => {
      throw new ImportError(`${source}: ${err.message}`);
    });
    if (!response.ok) throw new ImportError(`${source}: HTTP ${response.status} ${response.statusText}`);
    return response.text();
  }
  return readFile(source, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ImportError(err.code === "ENOENT" ? `${source}: no such file` : `${source}: ${err.message}`);
  });
}

async function fromFiles(sources: string[]): Promise<LocatedCrd[]> {
  const crds: LocatedCrd[] = [];
  for (const source of sources) {
    const found = crdsFromYaml(await readSource(source), source);
    for (const s of found.skipped) {
      process.stderr.write(
        `warning: ${source}: document ${s.index} is ${s.what}, not a CustomResourceDefinition: skipped\n`,
      );
    }
    if (found.crds.length === 0) throw new ImportError(`${source}: no CustomResourceDefinition in it`);
    crds.push(...found.crds);
  }
  return crds;
}

async function fromCluster(names: string[], opts: ImportCommandOptions): Promise<LocatedCrd[]> {
  const client = await Client.connect(connection(opts));
  try {
    const crds: LocatedCrd[] = [];
    for (const name of names) {
      const crd = await client.get(CustomResourceDefinition, name).catch((err: unknown) => {
        if (isNotFound(err)) throw new ImportError(`CustomResourceDefinition ${name} is not installed in the cluster`);
        throw err;
      });
      crds.push({ crd, source: `the cluster's CustomResourceDefinition ${name}` });
    }
    return crds;
  } finally {
    await client.close();
  }
}

export function importCommand(): Command {
  return new Command("import")
    .description(
      "write typed definitions (TypeBox schemas and a defineResource per kind, every version) for third-party " +
        "custom resources, one module per CRD, from CRD YAML files or URLs, or with --from-cluster from the CRDs " +
        "installed in the current cluster; files whose content is unchanged are not rewritten",
    )
    .argument(
      "<sources...>",
      "CRD YAML files or http(s) URLs; with --from-cluster, CRD names (e.g. components.dapr.io)",
    )
    .option("--from-cluster", "read the named CRDs from the current cluster (KUBECONFIG) instead of files")
    .option("-d, --dir <path>", "the project folder (default: the current directory)")
    .option("-o, --out <dir>", "output folder, relative to the project folder", join("src", "imported"))
    .option("--kubeconfig <path>", "with --from-cluster: kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "with --from-cluster: kubeconfig context (default: the current one)")
    .option("--from <module>", "the module the generated code imports defineResource and Type from", "converge-sdk")
    .action(async (sources: string[], opts: ImportCommandOptions) => {
      const crds = opts.fromCluster ? await fromCluster(sources, opts) : await fromFiles(sources);
      const seen = new Map<string, string>();
      const out = resolve(opts.dir ?? ".", opts.out);
      await mkdir(out, { recursive: true });
      for (const { crd, source } of crds) {
        let module: ReturnType<typeof importCrd>;
        try {
          module = importCrd(crd, { from: opts.from });
        } catch (err) {
          throw err instanceof Error ? new ImportError(`${source}: ${err.message}`) : err;
        }
        const earlier = seen.get(module.crdName);
        if (earlier) throw new ImportError(`${source}: ${module.crdName} was already given by ${earlier}`);
        seen.set(module.crdName, source);
        const path = join(out, module.path);
        const current = await readFile(path, "utf8").catch(() => undefined);
        const versions = crd.spec.versions.map((v) => `${crd.spec.group}/${v.name}`).join(", ");
        if (current === module.content) {
          process.stdout.write(`unchanged ${shown(path)} (${module.kind}, ${versions})\n`);
          continue;
        }
        await writeFile(path, module.content);
        process.stdout.write(`wrote ${shown(path)} (${module.kind}, ${versions})\n`);
      }
    });
}
