// npm run build: the function, the trigger and the facerec CLI as one ES module each in dist/ (dependencies stay
// in node_modules). Starting from a bundle skips compiling TypeScript at every start: the
// function's cold start is measured from here (npm run bench).
import { build } from "esbuild";

const entries = {
  function: "functions/face-recognition/index.ts",
  trigger: "trigger/cli.ts",
  facerec: "functions/face-recognition/cli.ts",
  // Forked by the function and the CLI beside their own bundle (pipeline/ffmpeg-remote.ts).
  "ffmpeg-host": "functions/face-recognition/pipeline/ffmpeg-host.ts",
};

// The packages (CommonJS, all of them) are loaded with require(): imported from an ES module, Node
// first parses each one to guess its format and its export names (~0.15 s of the function's start).
const requirePackages = {
  name: "require-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("node:") || args.namespace === "package"
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
