// npm run build: the function, the trigger and the facerec CLI as one ES module each in dist/ (dependencies stay
// in node_modules). Starting from a bundle skips compiling TypeScript at every start: the
// function's cold start is measured from here (npm run bench).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const entries = {
  function: "functions/face-recognition/index.ts",
  trigger: "trigger/cli.ts",
  facerec: "functions/face-recognition/cli.ts",
  // Forked by the function and the CLI beside their own bundle (pipeline/decode/host/ffmpeg-remote.ts).
  "ffmpeg-host": "functions/face-recognition/pipeline/decode/host/ffmpeg-host.ts",
};

// The CommonJS packages are loaded with require(): imported from an ES module, Node first parses
// each one to guess its format and its export names, a cost on every start. A package that offers
// only ES modules (p-queue) stays an import: require() of it gives its namespace, not its default.
const packageName = (specifier) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");
const esmOnly = (specifier) => {
  const file = join("node_modules", packageName(specifier), "package.json");
  if (!existsSync(file)) return false;
  const pkg = JSON.parse(readFileSync(file, "utf8"));
  return pkg.type === "module" && !JSON.stringify(pkg.exports ?? {}).includes('"require"');
};
// Bundled into the output instead, keeping only the parts used (zod/mini): loaded from
// node_modules, zod is a visible share of every process's start (npm run bench: cold start).
const BUNDLED = new Set(["zod"]);
const requirePackages = {
  name: "require-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      BUNDLED.has(packageName(args.path)) && args.namespace !== "package"
        ? undefined
        : args.path.startsWith("node:") || args.namespace === "package" || esmOnly(args.path)
          ? { path: args.path, external: true }
          : { path: args.path, namespace: "package" },
    );
    b.onLoad({ filter: /.*/, namespace: "package" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

await build({
  entryPoints: entries,
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  plugins: [requirePackages],
  banner: {
    js: 'import { createRequire as createRequireForPackages } from "node:module"; const require = createRequireForPackages(import.meta.url);',
  },
  logLevel: "warning",
});
