/**
 * The production build of an operator project: its entry point and Converge bundled into plain JavaScript in
 * `dist/`, run by the image as `node <runtimeNodeFlags> dist/main.js`.
 *
 * Why a bundle: the project's own sources are TypeScript, and stripping types at load costs memory and start-up
 * time (measured with the benchmark operator holding 10,000 objects: 250 MB peak RSS from sources against 179 MB
 * bundled). esbuild removes the types and joins the project's modules, Converge and Converge's own dependencies
 * into `main.js` (rarely used paths, such as @kubernetes/client-node for exec credential plugins, into chunks
 * loaded on first use). The packages the project itself declares in package.json stay external and load from its node_modules:
 * Converge's dependencies cannot, because a package manager may nest them where the bundle would not find them.
 */
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";

/**
 * Node flags every production run of an operator gets (the Dockerfile's CMD, the benchmark). Each keeps memory that
 * an operator, which holds a cache and little else, would never get back otherwise:
 *
 * - `--max-semi-space-size=4`: V8 sizes the young generation for throughput, up to 3 × 16 MB semi-spaces that stay
 *   committed; an operator's garbage is short-lived (decoded watch events, request bodies), and with 4 MB
 *   semi-spaces the benchmark operator holding 10,000 objects peaked at 136–141 MB of RSS instead of 179 MB, for
 *   about 3 % more CPU.
 * - `--heap-growing-percent=30`: after a full GC, V8 lets the old generation grow by a factor it picks from the GC's
 *   speed against the allocation rate, up to 4× for a small heap; a cold start's list of 10,000 objects then leaves
 *   some 30 MB of garbage (the pages it was decoded through, managedFields dropped from every object) in pages that
 *   no GC visits until the limit is reached, which an idle operator never does. 1.3× keeps the heap near what is
 *   live: see bench/README.md for the measured RSS and CPU.
 * - `--max-opt=2`: hot functions are optimized by Maglev and never by TurboFan. An operator's hot path is mostly
 *   native (TLS, HTTP parsing, JSON), so TurboFan's code gained nothing measurable, while its compiler's own pages of
 *   the `node` executable and the memory its background compile jobs leave in the allocator's thread arenas stayed
 *   resident: the benchmark operator's cold start on 10,000 objects peaked at 103 MB of RSS instead of 114 MB, for
 *   the same CPU per object (less in the create burst, where no compile jobs compete for the operator's core).
 */
export const runtimeNodeFlags: readonly string[] = [
  "--max-semi-space-size=4",
  "--heap-growing-percent=30",
  "--max-opt=2",
];

export interface BuildOptions {
  /** The project folder (default: the working directory). */
  dir?: string;
  /** The entry point, relative to `dir` (default `src/main.ts`). */
  entry?: string;
  /** Where the bundle goes, relative to `dir` (default `dist`). */
  outDir?: string;
  /**
   * Packages loaded from node_modules instead of bundled (default: the project's package.json dependencies,
   * optional and peer dependencies, except `converge-sdk`).
   */
  external?: readonly string[];
}

export interface BuildResult {
  /** The bundle's entry file (absolute). */
  outFile: string;
  /** Every file written, relative to `dir`, with its size. */
  files: { path: string; bytes: number }[];
  /** Packages left to node_modules, sorted. */
  external: string[];
  milliseconds: number;
}

export class BuildError extends Error {
  override name = "BuildError";
}

/** The packages a project declares, but Converge: those it installs itself, where the bundle will find them. */
async function declaredPackages(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, "package.json"), "utf8").catch(() => "{}");
  const pkg = JSON.parse(text) as Record<string, Record<string, string> | undefined>;
  const names = ["dependencies", "optionalDependencies", "peerDependencies"].flatMap((k) => Object.keys(pkg[k] ?? {}));
  return [...new Set(names)].filter((n) => n !== "converge-sdk");
}

/** Bundles an operator project's entry point with Converge into `dist/` (see the module comment). */
export async function buildOperator(options: BuildOptions = {}): Promise<BuildResult> {
  const dir = resolve(options.dir ?? ".");
  const entry = options.entry ?? "src/main.ts";
  const entryPath = isAbsolute(entry) ? entry : join(dir, entry);
  const outDir = resolve(dir, options.outDir ?? "dist");
  const externalPackages = new Set(options.external ?? (await declaredPackages(dir)));
  await stat(entryPath).catch(() => {
    throw new BuildError(
      `${relative(process.cwd(), entryPath) || entryPath}: no such file (the operator's entry point)`,
    );
  });
  // esbuild is a native binary; loading it only here keeps it out of every operator's start-up.
  const esbuild = await import("esbuild");
  const external = new Set<string>();
  const started = performance.now();
  const result = await esbuild
    .build({
      absWorkingDir: dir,
      entryPoints: { main: entryPath },
      outdir: outDir,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      // Dynamic imports inside the bundle (rarely used code paths) become chunks loaded on first use.
      splitting: true,
      sourcemap: "linked",
      // Class and function names show in errors and logs.
      keepNames: true,
      // No comments or indentation: V8 keeps every loaded script's source text in the heap, as two bytes a character
      // once a single character of it is not Latin-1 (an em dash in a comment); measured on an idle operator, 5.6 MB
      // of RSS. Stack traces then point into long lines: map them with the .map file beside the bundle (running with
      // --enable-source-maps costs some 35 MB of RSS, for debugging only). Licence comments go to a file beside it.
      minifyWhitespace: true,
      legalComments: "linked",
      // CommonJS packages inside an ES module bundle still call require() for Node's built-in modules.
      banner: {
        js: 'import { createRequire as __convergeRequire } from "node:module";\nconst require = __convergeRequire(import.meta.url);',
      },
      metafile: true,
      logLevel: "silent",
      plugins: [
        {
          name: "external-packages",
          setup(build) {
            build.onResolve({ filter: /^[^./]/ }, (args) => {
              const name = packageName(args.path);
              if (!externalPackages.has(name)) return undefined;
              external.add(name);
              return { path: args.path, external: true };
            });
          },
        },
      ],
    })
    .catch((err: unknown) => {
      const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
      if (!errors?.length) throw err;
      const lines = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
      throw new BuildError(`the build failed:\n  ${lines.join("\n  ")}`);
    });
  const files = Object.entries(result.metafile?.outputs ?? {})
    .map(([path, out]) => ({ path, bytes: out.bytes }))
    .sort((a, b) => a.path.localeCompare(b.path));
  return {
    outFile: join(outDir, "main.js"),
    files,
    external: [...external].sort(),
    milliseconds: performance.now() - started,
  };
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}
