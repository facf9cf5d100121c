// What `npm run build` makes, computed without writing anything: scripts/build.mjs runs with
// esbuild's build() intercepted, and each call is repeated in memory with a metafile. So the checks
// follow the build script's own entries and options, and see what each bundle loads at run time.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import type { BuildOptions, BuildResult } from "esbuild";
import { vi } from "vitest";
import { packageName, ROOT } from "./scan.js";

export const BUILD_SCRIPT = "scripts/build.mjs";

export interface Bundle {
  /** The output file, relative to the repository root ("dist/function.mjs"). */
  file: string;
  /** Its entry point, relative to the repository root ("functions/face-recognition/index.ts"). */
  entry: string;
  /** Repository files compiled into it: none of them is needed at run time. */
  inputs: string[];
  /** Packages compiled into it from node_modules (scripts/build.mjs bundles a few): installed by the build stage's `npm ci`. */
  compiled: string[];
  /** Packages it loads from node_modules at run time → how (import-statement, dynamic-import, require). */
  packages: Map<string, string[]>;
  /** Other output files it imports (chunks), relative to the repository root. */
  chunks: string[];
  /** Every `import.meta…` expression in it (each one is relative to dist/, not to the source). */
  importMeta: string[];
  text: string;
}

const BUILTINS = new Set(builtinModules);
/** How the metafile names the build script's stand-in for a package loaded with require(). */
const PACKAGE_STAND_IN = "package:";
const NODE_MODULES = "node_modules/";
const isBuiltin = (spec: string) => spec.startsWith("node:") || BUILTINS.has(spec);

/** The options of every esbuild build() call scripts/build.mjs makes, in order. */
async function buildScriptOptions(): Promise<BuildOptions[]> {
  const calls: BuildOptions[] = [];
  vi.doMock("esbuild", async (importOriginal) => ({
    ...(await importOriginal<typeof import("esbuild")>()),
    build: async (options: BuildOptions) => {
      calls.push(options);
      // Nothing built, nothing written: what a build with write: true returns without a metafile.
      const result: BuildResult = {
        errors: [],
        warnings: [],
        outputFiles: undefined,
        metafile: undefined,
        mangleCache: undefined,
      };
      return result;
    },
  }));
  try {
    await import(join(ROOT, BUILD_SCRIPT));
  } finally {
    vi.doUnmock("esbuild");
  }
  if (calls.length === 0) throw new Error(`${BUILD_SCRIPT} made no esbuild build() call`);
  return calls;
}

/** `requireX("pkg")` and `requireX.resolve("pkg/…")` through createRequire: esbuild leaves them as they are. */
function runtimeRequires(text: string): string[] {
  return [...text.matchAll(/\brequire\w*(?:\.resolve)?\(\s*(["'])([^"']+)\1\s*\)/g)].map((m) => m[2] as string);
}

async function buildInMemory(): Promise<Bundle[]> {
  const { build } = await import("esbuild");
  const bundles: Bundle[] = [];
  for (const options of await buildScriptOptions()) {
    const result = await build({ absWorkingDir: ROOT, ...options, write: false, metafile: true, logLevel: "silent" });
    const texts = new Map((result.outputFiles ?? []).map((f) => [f.path, f.text]));
    for (const [file, output] of Object.entries(result.metafile.outputs)) {
      if (!output.entryPoint) continue; // a chunk: reported by the bundles that import it
      const text = texts.get(join(ROOT, file)) ?? "";
      const packages = new Map<string, string[]>();
      const add = (spec: string, how: string) => {
        if (spec.startsWith(".") || spec.startsWith("/") || isBuiltin(spec)) return;
        const name = packageName(spec);
        packages.set(name, [...new Set([...(packages.get(name) ?? []), how])]);
      };
      for (const i of output.imports) if (i.external) add(i.path, i.kind);
      for (const spec of runtimeRequires(text)) add(spec, "require");
      // The build script's plugin stands each package in as `module.exports = require("pkg")`.
      const inputs = Object.keys(output.inputs);
      for (const stand of inputs.filter((f) => f.startsWith(PACKAGE_STAND_IN)))
        add(stand.slice(PACKAGE_STAND_IN.length), "require");
      const fromPackages = inputs.filter((f) => f.startsWith(NODE_MODULES));
      bundles.push({
        file,
        entry: output.entryPoint,
        inputs: inputs.filter((f) => !f.startsWith(PACKAGE_STAND_IN) && !f.startsWith(NODE_MODULES)).sort(),
        compiled: [...new Set(fromPackages.map((f) => packageName(f.slice(NODE_MODULES.length))))].sort(),
        packages,
        chunks: output.imports.filter((i) => !i.external).map((i) => i.path),
        importMeta: [...text.matchAll(/(?:[\w$]+\()?import\.meta(?:\.\w+)?/g)].map((m) => m[0]),
        text,
      });
    }
  }
  return bundles;
}

let cached: Promise<Bundle[]> | undefined;

/** The bundles `npm run build` writes, built once per test file. */
export const npmBuild = (): Promise<Bundle[]> => {
  cached ??= buildInMemory();
  return cached;
};

/** The bundle written to `file` (as a script names it: "dist/function.mjs"). */
export async function bundleAt(file: string): Promise<Bundle> {
  const bundles = await npmBuild();
  const bundle = bundles.find((b) => b.file === file.replace(/^\.\//, ""));
  if (!bundle) throw new Error(`npm run build makes no ${file} (it makes ${bundles.map((b) => b.file).join(", ")})`);
  return bundle;
}

/**
 * Makes `file` what `npm run build` makes from the current sources: runs the build when the file is
 * missing (setup builds it, a fresh clone has none) or older than the sources.
 */
export async function ensureBuilt(file: string): Promise<Bundle> {
  const bundle = await bundleAt(file);
  const path = join(ROOT, bundle.file);
  if (!existsSync(path) || readFileSync(path, "utf8") !== bundle.text) {
    execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  }
  if (!existsSync(path)) throw new Error(`npm run build did not write ${bundle.file}`);
  return bundle;
}
