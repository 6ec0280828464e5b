/**
 * `npm run pack`: builds the converge-sdk package as users install it into dist/package/, checks it, and packs
 * it into dist/converge-sdk-<version>.tgz (publish that file: `npm publish dist/converge-sdk-<version>.tgz`).
 *
 *   node scripts/pack.ts [--destination <folder>]     (the tarball's folder, default dist/)
 *
 * Why a separate folder with its own package.json: the repository runs its TypeScript sources in place (the
 * examples are workspaces that link it, tests import src/ directly, no build step), but Node does not strip types
 * under node_modules, so an installed package must be JavaScript. Conditional exports with a source condition
 * would keep one manifest, but `bin` cannot be conditional (the examples' `converge generate` would need a build
 * first) and every `node`, test run and tsc in the repository would need the custom condition. So the repository's
 * package.json stays the development manifest — private, so that `npm publish` refuses it, and its `prepack`
 * refuses `npm pack` — and this script writes the published one: compiled JavaScript with declarations and source
 * maps (sources inlined), the `converge` bin, an exports map with `types` conditions, the files the code reads at
 * run time (packageAssets), README and LICENSE, and the runtime dependencies only. Before packing it imports every
 * entry point and runs the bin from the built folder, and the packed file list is checked (packProblems) so that a
 * tarball missing a target is never written.
 */
import { execFile } from "node:child_process";
import { chmod, copyFile, cp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";

export const repo = resolve(import.meta.dirname, "..");

/** Where `npm run pack` builds the package's folder and writes the tarball. */
export const defaultDirs = { dir: join(repo, "dist", "package"), destination: join(repo, "dist") };

type Exports = Record<string, string | Record<string, string>>;

/** The fields of package.json this script reads or writes. */
export interface Manifest {
  name: string;
  version: string;
  description?: string;
  license?: string;
  private?: boolean;
  type?: string;
  bin?: Record<string, string>;
  exports?: Exports;
  files?: string[];
  engines?: Record<string, string>;
  scripts?: Record<string, string>;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/**
 * The oldest Node the compiled package runs on: undici, which @kubernetes/client-node depends on, needs 22.19.
 * (A project's own TypeScript files need type stripping, which Node 22.18 has unflagged; projects made by
 * `converge init` get Node 24 as a devDependency.)
 */
const nodeEngine = ">=22.19.0";

/**
 * Folders of src/ that the code reads as data at run time, shipped as they are into the same place under dist/
 * (never compiled: tsconfig.build.json excludes the ones with TypeScript in them): the template project of
 * `converge init`, whose TypeScript and tests are files to copy, not code to run, and the Helm chart's templates.
 */
export const packageAssets: readonly string[] = ["cli/templates/project", "generate/chart"];

/** `./src/x/y.ts` (a development target) → `dist/x/y` (the compiled one, without extension). */
function compiled(target: string): string {
  const match = /^(?:\.\/)?src\/(.+)\.ts$/.exec(target);
  if (!match) throw new Error(`package.json target ${target} is not a .ts file under src/`);
  return `dist/${match[1]}`;
}

/** The published package.json, made from the repository's: the same names, compiled targets, no development. */
export function publishedManifest(dev: Manifest): Manifest {
  const exports: Exports = {};
  for (const [subpath, target] of Object.entries(dev.exports ?? {})) {
    if (typeof target !== "string") throw new Error(`package.json exports["${subpath}"] must be one .ts file`);
    const out = compiled(target);
    exports[subpath] = { types: `./${out}.d.ts`, default: `./${out}.js` };
  }
  const bin = Object.fromEntries(
    Object.entries(dev.bin ?? {}).map(([name, target]) => [name, `${compiled(target)}.js`]),
  );
  return {
    name: dev.name,
    version: dev.version,
    ...(dev.description ? { description: dev.description } : {}),
    ...(dev.license ? { license: dev.license } : {}),
    type: "module",
    bin,
    exports,
    files: ["dist"],
    engines: { node: nodeEngine },
    ...(dev.dependencies ? { dependencies: dev.dependencies } : {}),
  };
}

/** A file of `npm pack --json`. */
export interface PackedFile {
  path: string;
  size: number;
  mode: number;
}

/** Why a packed file list is not a working package of this manifest and these assets; empty when it is. */
export function packProblems(
  manifest: Manifest,
  files: readonly PackedFile[],
  assets: readonly string[] = packageAssets,
): string[] {
  const problems: string[] = [];
  const byPath = new Map(files.map((f) => [f.path, f]));
  const inAssets = (path: string) => assets.some((a) => path.startsWith(`dist/${a}/`));
  for (const a of assets) {
    if (!files.some((f) => f.path.startsWith(`dist/${a}/`))) problems.push(`dist/${a}/ is missing`);
  }
  for (const f of files) {
    if (inAssets(f.path)) continue;
    if (/\.[mc]?ts$/.test(f.path) && !/\.d\.[mc]?ts$/.test(f.path)) problems.push(`${f.path}: a TypeScript source`);
    if (/\.test\./.test(f.path)) problems.push(`${f.path}: a test`);
    if (f.path.endsWith(".js") && !byPath.has(`${f.path}.map`)) problems.push(`${f.path}: no source map`);
  }
  for (const path of ["package.json", "README.md", "LICENSE"]) {
    if (!byPath.has(path)) problems.push(`${path} is missing`);
  }
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    const conditions = typeof target === "string" ? { default: target } : target;
    if (!conditions.types) problems.push(`exports["${subpath}"] has no types condition`);
    for (const [condition, path] of Object.entries(conditions)) {
      if (!byPath.has(path.replace(/^\.\//, "")))
        problems.push(`exports["${subpath}"].${condition}: ${path} is missing`);
    }
  }
  if (Object.keys(manifest.bin ?? {}).length === 0) problems.push("no bin");
  for (const [name, path] of Object.entries(manifest.bin ?? {})) {
    const file = byPath.get(path);
    if (!file) problems.push(`bin ${name}: ${path} is missing`);
    else if ((file.mode & 0o111) === 0) problems.push(`bin ${name}: ${path} is not executable`);
  }
  for (const field of ["devDependencies", "workspaces", "scripts"] as const) {
    if (manifest[field]) problems.push(`package.json has ${field}`);
  }
  if (manifest.private) problems.push("package.json is private");
  if (manifest.dependencies?.node) problems.push("package.json depends on the node package");
  if (!manifest.engines?.node) problems.push("package.json has no engines.node");
  return problems;
}

interface Ran {
  stdout: string;
  stderr: string;
}

/** Runs a command; rejects with its output. npm's own npm_* variables are left out (a nested npm would obey them). */
function run(cmd: string, args: string[], cwd: string): Promise<Ran> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stdout}${stderr}`));
      else resolvePromise({ stdout, stderr });
    });
  });
}

/**
 * Writes the package's folder `dir` (removed first): dist/ compiled by tsc (tsconfig.build.json) with the assets
 * beside the modules that read them, package.json (publishedManifest), README.md and LICENSE.
 */
export async function buildPackage(dir: string): Promise<Manifest> {
  const dev = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as Manifest;
  const manifest = publishedManifest(dev);
  await rm(dir, { recursive: true, force: true });
  const tsc = join(repo, "node_modules", ".bin", "tsc");
  await run(tsc, ["-p", join(repo, "tsconfig.build.json"), "--outDir", join(dir, "dist")], repo);
  await relocateSourceMaps(dir);
  for (const asset of packageAssets) {
    // Not over anything: tsc must have written nothing there.
    await cp(join(repo, "src", asset), join(dir, "dist", asset), { recursive: true, errorOnExist: true, force: false });
  }
  for (const path of Object.values(manifest.bin ?? {})) {
    const text = await readFile(join(dir, path), "utf8");
    if (!text.startsWith("#!/usr/bin/env node\n")) throw new Error(`${path} does not start with a node shebang`);
    await chmod(join(dir, path), 0o755);
  }
  await writeFile(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const file of ["README.md", "LICENSE"]) await copyFile(join(repo, file), join(dir, file));
  return manifest;
}

/**
 * tsc writes each map's `sources` relative to where the map is now, reaching back into this repository; in the
 * package they must name the file as if src/ sat beside dist/ (the text is inlined, `sourcesContent`), so that a
 * stack trace says node_modules/converge-sdk/src/cli/commands/init.ts rather than a path of the machine that packed it.
 */
async function relocateSourceMaps(dir: string): Promise<void> {
  const src = join(repo, "src");
  for (const entry of await readdir(join(dir, "dist"), { recursive: true })) {
    if (!entry.endsWith(".map")) continue;
    const mapFile = join(dir, "dist", entry);
    const map = JSON.parse(await readFile(mapFile, "utf8")) as { sources: string[] };
    map.sources = map.sources.map((source) => {
      const original = resolve(dirname(mapFile), source);
      return relative(dirname(mapFile), join(dir, "src", relative(src, original)))
        .split(sep)
        .join("/");
    });
    await writeFile(mapFile, JSON.stringify(map));
  }
}

/**
 * Loads every entry point and runs the bin from the built folder, with the repository's node_modules standing in
 * for the installed dependencies: what fails here (a module that is not there, an import left as .ts) would fail
 * for every user.
 */
export async function smokeTest(dir: string, manifest: Manifest): Promise<void> {
  const modules = join(dir, "node_modules");
  await symlink(join(repo, "node_modules"), modules, "dir");
  try {
    // The package's own name resolves to itself (self-reference), through its exports map.
    const specifiers = Object.keys(manifest.exports ?? {}).map((s) => `${manifest.name}${s.slice(1)}`);
    const script = `for (const s of ${JSON.stringify(specifiers)}) await import(s);`;
    await run(process.execPath, ["--input-type=module", "--eval", script], dir);
    for (const path of Object.values(manifest.bin ?? {})) {
      const { stdout } = await run(process.execPath, [join(dir, path), "--version"], dir);
      if (stdout.trim() !== manifest.version) throw new Error(`${path} --version printed ${stdout.trim()}`);
    }
  } finally {
    await rm(modules, { force: true });
  }
}

/** `npm pack` of the folder `dir`: the tarball in `destination`, or with `destination` undefined only the list. */
export async function npmPack(
  dir: string,
  destination?: string,
): Promise<{ filename: string; files: PackedFile[]; size: number }> {
  const args = ["pack", "--json", ...(destination ? ["--pack-destination", destination] : ["--dry-run"])];
  const { stdout } = await run("npm", args, dir);
  const [result] = JSON.parse(stdout) as { filename: string; files: PackedFile[]; size: number }[];
  if (!result) throw new Error(`npm pack printed no result:\n${stdout}`);
  return { ...result, filename: destination ? join(destination, result.filename) : result.filename };
}

export interface PackResult {
  /** The tarball (absolute). */
  tarball: string;
  manifest: Manifest;
  files: PackedFile[];
  size: number;
}

/** buildPackage, smokeTest, then the file list checked with packProblems before the tarball is written. */
export async function pack(options: { dir?: string; destination?: string } = {}): Promise<PackResult> {
  const dir = options.dir ?? defaultDirs.dir;
  const destination = resolve(options.destination ?? defaultDirs.destination);
  const manifest = await buildPackage(dir);
  await smokeTest(dir, manifest);
  const problems = packProblems(manifest, (await npmPack(dir)).files);
  if (problems.length > 0) throw new Error(`the package in ${dir} is not right:\n  ${problems.join("\n  ")}`);
  const packed = await npmPack(dir, destination);
  await stat(packed.filename);
  return { tarball: packed.filename, manifest, files: packed.files, size: packed.size };
}

const refusal = `npm pack in the repository root would pack the TypeScript sources, which Node does not run under
node_modules. Run \`npm run pack\`: it builds the package into dist/package/ and packs dist/converge-sdk-<version>.tgz
(publish that file with \`npm publish dist/converge-sdk-<version>.tgz\`).`;

if (import.meta.main) {
  const { values } = parseArgs({ options: { destination: { type: "string" }, refuse: { type: "boolean" } } });
  if (values.refuse) {
    // The root package.json's prepack, run by `npm pack` and `npm publish` there, and also by `npm run pack` (as
    // its pre-script), which is let through.
    if (process.env.npm_command === "run") process.exit(0);
    process.stderr.write(`error: ${refusal}\n`);
    process.exit(1);
  }
  const started = performance.now();
  const result = await pack(values.destination ? { destination: values.destination } : {});
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `${result.manifest.name}@${result.manifest.version}: ${result.files.length} files, ` +
      `${(result.size / 1024).toFixed(0)} KiB, in ${seconds} s\n${result.tarball}\n`,
  );
}
