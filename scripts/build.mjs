// npm run build: the function, the trigger and the facerec CLI as one ES module each in dist/ (dependencies stay
// in node_modules). Starting from a bundle skips compiling TypeScript at every start: the
// function's cold start is measured from here (npm run bench).
import { build } from "esbuild";

const entries = {
  function: "functions/face-recognition/index.ts",
  trigger: "trigger/cli.ts",
  facerec: "functions/face-recognition/cli.ts",
};

await build({
  entryPoints: entries,
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
