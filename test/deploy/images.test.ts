// The two images, checked without Docker: base images, users, the watchdog's settings, and that
// each image starts the bundle `npm run build` makes of the same entry as its local command, builds
// it in the image from the sources, and ships it with the production packages it loads (no dev
// dependency, no TypeScript source), whether built by `docker build` from the root or by
// `faas-cli build`. What `npm run build` makes is computed from scripts/build.mjs (support/bundle.ts).
import { describe, expect, it } from "vitest";
import { openfaasToolVersion } from "../support/openfaas.js";
import { BUILD_SCRIPT, bundleAt, npmBuild } from "./support/bundle.js";
import { FUNCTION_DOCKERFILE, FUNCTION_ENTRY, loadRepo, TRIGGER_DOCKERFILE } from "./support/repo.js";
import {
  type Copy,
  type Dockerfile,
  exists,
  execWords,
  ignorePatterns,
  importClosure,
  isIgnored,
  read,
  type Stage,
  stageCopies,
  stageEnv,
  unitTestFiles,
} from "./support/scan.js";

const repo = loadRepo();
const pkg = JSON.parse(read("package.json")) as {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
};
const runtimePackages = new Set([
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
]);
const rootIgnore = ignorePatterns(read(".dockerignore"));
const handlerIgnore = ignorePatterns(read("functions/face-recognition/.dockerignore"));
const bundles = await npmBuild();

const WORKDIR = "/home/app/";
const named = (d: Dockerfile, name: string) => d.stages.find((s) => s.name === name) as Stage;
const runs = (stage: Stage) => stage.instructions.filter((i) => i.cmd === "RUN").map((i) => i.args);
/** A stage's shell commands in order, `a && b` counted as two. */
const steps = (stage: Stage) =>
  stage.instructions
    .filter((i) => i.cmd === "RUN")
    .flatMap((i) => i.args.split(/\s*&&\s*/).map((text) => ({ text, line: i.line })));
const within = (file: string, dirs: string[]) => dirs.some((d) => file === d || file.startsWith(`${d}/`));

/** What the last stage copies from the image's own stages: paths under the workdir, by stage. */
function shippedFromStages(d: Dockerfile): { path: string; from: string }[] {
  const ship = d.stages.at(-1) as Stage;
  return stageCopies(ship)
    .filter((c) => c.from && named(d, c.from)) // not another image (the watchdog)
    .flatMap((c) => c.sources.map((s) => ({ path: s.replace(WORKDIR, ""), from: c.from as string })));
}

/** The file `node [flags] <file> …` runs, and the flags before it. */
function nodeCommand(words: string[]): { node: string; flags: string[]; file: string } {
  const at = words.findIndex((w, i) => i > 0 && !w.startsWith("-"));
  return { node: words[0] as string, flags: words.slice(1, at), file: (words[at] ?? "").replace(/^\.\//, "") };
}

/** Every COPY from the build context. */
const contextCopies = (d: Dockerfile): Copy[] => d.stages.flatMap((s) => stageCopies(s).filter((c) => !c.from));

describe("npm run build (scripts/build.mjs)", () => {
  it("is the build script these checks run, and makes bundles of existing entries", () => {
    expect(pkg.scripts?.build, "the checks compute the bundles from this script").toMatch(
      new RegExp(`^node ${BUILD_SCRIPT.replace(".", "\\.")}$`),
    );
    expect(bundles.length).toBeGreaterThan(0);
    for (const b of bundles) expect(exists(b.entry), b.entry).toBe(true);
    expect(pkg.devDependencies, "esbuild makes the bundles at build time only").toHaveProperty("esbuild");
  });
});

describe.each([
  {
    image: "function",
    file: FUNCTION_DOCKERFILE,
    dockerfile: repo.functionDockerfile,
    script: "function",
    // the watchdog splits fprocess on spaces, no shell
    command: (repo.functionShipEnv.fprocess ?? "").split(" "),
    entry: FUNCTION_ENTRY,
    closure: repo.functionClosure,
  },
  {
    image: "trigger",
    file: TRIGGER_DOCKERFILE,
    dockerfile: repo.triggerDockerfile,
    script: "trigger",
    command: execWords(
      repo.triggerDockerfile.stages.at(-1)?.instructions.findLast((i) => i.cmd === "ENTRYPOINT")?.args ?? "[]",
    ),
    entry: repo.triggerEntry,
    closure: repo.triggerClosure,
  },
])("the $image image ($file)", ({ dockerfile, script, command, entry, closure }) => {
  const ship = dockerfile.stages.at(-1) as Stage;
  const started = nodeCommand(command);

  it("is built on Debian slim with Node 22 LTS (tfjs-node needs glibc: no Alpine)", () => {
    for (const stage of dockerfile.stages.filter((s) => s.from.startsWith("node:"))) {
      expect(stage.from).toMatch(/^node:22(\.\d+)*-bookworm-slim$/);
    }
    expect(ship.from).toMatch(/^node:/);
  });

  it("runs as a numeric non-root user", () => {
    const user = ship.instructions.filter((i) => i.cmd === "USER").at(-1)?.args ?? "";
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it("keeps temporary files in TMPDIR=/tmp (the writable mount of a read-only root)", () => {
    expect(stageEnv(ship).TMPDIR).toBe("/tmp");
  });

  it(`starts node on the bundle \`npm run ${script}\` starts, with no TypeScript loader`, async () => {
    expect(started.node).toBe("node");
    expect(started.flags.filter((f) => /^(--import|--loader|--experimental-loader|--require|-r)(=|$)/.test(f))).toEqual(
      [],
    );
    const local = nodeCommand((pkg.scripts?.[script] ?? "").split(/\s+/));
    expect(local.node, `package.json scripts.${script}`).toBe("node");
    expect(started.file, `the same file as \`npm run ${script}\``).toBe(local.file);
    const bundle = await bundleAt(started.file);
    expect(bundle.entry, "the entry whose settings test/deploy checks").toBe(entry);
    expect(bundle.packages.has("tsx")).toBe(false);
  });

  it("builds the bundle in the build stage from the sources, with the dev dependencies, before pruning them", async () => {
    const bundle = await bundleAt(started.file);
    const from = shippedFromStages(dockerfile).find((s) => within(bundle.file, [s.path]))?.from;
    expect(from, `${bundle.file} is copied into the last stage`).toBeDefined();
    const build = named(dockerfile, from as string);
    const list = steps(build);
    const built = list.findIndex((s) => /^npm run build$/.test(s.text));
    expect(built, `\`npm run build\` in stage ${from}`).toBeGreaterThanOrEqual(0);
    const install = list.findIndex((s) => /\bnpm (ci|install)\b/.test(s.text));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(install).toBeLessThan(built);
    expect(list[install]?.text, "esbuild is a dev dependency").not.toMatch(/--omit[= ]dev|--production/);
    const prune = list.findIndex((s) => /\bnpm prune\b.*--omit[= ]dev/.test(s.text));
    expect(prune, "dev dependencies dropped after the build").toBeGreaterThan(built);
    // `npm run build` makes every bundle of scripts/build.mjs: all their sources must be there.
    const buildLine = list[built]?.line as number;
    const copied = stageCopies(build)
      .filter((c) => !c.from && c.line < buildLine)
      .flatMap((c) => c.sources);
    const sources = [BUILD_SCRIPT, "package.json", "package-lock.json", ...bundles.flatMap((b) => b.inputs)];
    const missing = [...new Set(sources)].filter((f) => !within(f, copied));
    expect(missing, `not in stage ${from} before \`npm run build\``).toEqual([]);
    const installed = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
    const compiled = bundles.flatMap((b) => b.compiled).filter((name) => !installed.has(name));
    expect(compiled, "compiled in from node_modules but not installed by `npm ci`").toEqual([]);
  });

  it("ships the bundle and the files it imports, and no TypeScript source", async () => {
    const bundle = await bundleAt(started.file);
    const shipped = shippedFromStages(dockerfile).map((s) => s.path);
    const files = [bundle.file, ...bundle.chunks];
    expect(
      files.filter((f) => !within(f, shipped)),
      `not in the image (it has ${shipped.join(", ")})`,
    ).toEqual([]);
    const fromContext = stageCopies(ship)
      .filter((c) => !c.from)
      .flatMap((c) => c.sources);
    const sources = bundles.flatMap((b) => b.inputs).filter((f) => within(f, [...shipped, ...fromContext]));
    expect(sources, "compiled into the bundle: not needed at run time").toEqual([]);
    expect(shipped, "packages from the pruned build stage").toContain("node_modules");
  });

  it("loads from node_modules only production dependencies", async () => {
    const bundle = await bundleAt(started.file);
    expect(bundle.packages.size).toBeGreaterThan(0);
    const dev = [...bundle.packages].filter(([name]) => !runtimePackages.has(name)).map(([n, how]) => `${n} (${how})`);
    expect(dev, "loaded at run time but not in dependencies/optionalDependencies").toEqual([]);
  });

  it("finds nothing relative to where its sources were (the bundle runs from dist/)", async () => {
    const bundle = await bundleAt(started.file);
    // createRequire(import.meta.url) resolves packages: node_modules is found from dist/ as well.
    const other = bundle.importMeta.filter((m) => !/^createRequire\w*\(import\.meta\.url$/.test(m));
    expect(other, "import.meta in the bundle points at dist/, not at the source file").toEqual([]);
  });

  it("is compiled from code the settings checks scan", async () => {
    const bundle = await bundleAt(started.file);
    const unscanned = bundle.inputs.filter((f) => !closure.files.includes(f));
    expect(unscanned, "in the bundle but not in the import closure test/deploy scans for settings").toEqual([]);
  });

  it("copies from the context only what exists and .dockerignore keeps", () => {
    for (const copy of contextCopies(dockerfile)) {
      for (const source of copy.sources) {
        if (source === "functions/face-recognition/gallery.json") continue; // made before a build (docs/deployment.md)
        expect(exists(source), `${source} (line ${copy.line})`).toBe(true);
        expect(isIgnored(source, rootIgnore), `${source} excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it("installs dependencies without their own install scripts", () => {
    const install = dockerfile.stages.flatMap(runs).filter((r) => /\bnpm (ci|install|prune)\b/.test(r));
    expect(install.length).toBeGreaterThan(0);
    for (const run of install) expect(run).toMatch(/--ignore-scripts/);
    const shipRuns = runs(ship).join("\n");
    expect(shipRuns, "no npm in the final stage").not.toMatch(/\bnpm\b/);
  });
});

describe("the trigger image", () => {
  const ship = repo.triggerDockerfile.stages.at(-1) as Stage;

  it("runs the daemon unless told otherwise, as trigger/k8s does", () => {
    const cmd = ship.instructions.findLast((i) => i.cmd === "CMD");
    expect(execWords(cmd?.args ?? "[]")).toEqual(["run"]);
    const container = (
      repo.must("Deployment", "facerec-trigger").spec as {
        template: { spec: { containers: { args?: string[]; command?: string[] }[] } };
      }
    ).template.spec.containers[0];
    expect(container?.command, "the image's ENTRYPOINT is kept").toBeUndefined();
    expect(container?.args).toEqual(["run"]);
  });
});

describe("the function image", () => {
  const d = repo.functionDockerfile;
  const ship = d.stages.at(-1) as Stage;
  const env = repo.functionShipEnv;
  const build = named(d, "build");

  it("takes the of-watchdog from its official image, pinned", () => {
    const watchdog = d.stages.find((s) => s.from.startsWith("ghcr.io/openfaas/of-watchdog:"));
    expect(watchdog?.from).toMatch(/^ghcr\.io\/openfaas\/of-watchdog:\d+\.\d+\.\d+$/);
    const copy = stageCopies(ship).find((c) => c.from === watchdog?.name);
    expect(copy?.sources).toEqual(["/fwatchdog"]);
    const cmd = ship.instructions.filter((i) => i.cmd === "CMD").at(-1);
    expect(execWords(cmd?.args ?? "")[0]).toMatch(/fwatchdog$/);
    expect(copy?.dest).toMatch(/fwatchdog$/);
  });

  it("takes the of-watchdog release whose binary the tests run", () => {
    const watchdog = d.stages.find((s) => s.from.startsWith("ghcr.io/openfaas/of-watchdog:"));
    const tested = openfaasToolVersion("fwatchdog");
    if (tested) expect(watchdog?.from).toBe(`ghcr.io/openfaas/of-watchdog:${tested}`);
  });

  it("builds for the backend the tests run (wasm) unless asked, and runs the backend it was built for", () => {
    expect(d.args.get("FACE_BACKEND")).toBe("wasm");
    for (const stage of [build, ship]) {
      expect(stage.instructions.some((i) => i.cmd === "ARG" && i.args === "FACE_BACKEND")).toBe(true);
    }
    expect(env.FACE_BACKEND).toBe("wasm");
    expect(env.FACE_SPEEDUPS ?? "auto", "the speedups' switch is left to the engine's own decision").toBe("auto");
  });

  it("runs the watchdog in http mode in front of the function's server", () => {
    expect(env.mode).toBe("http");
    const upstream = new URL(env.upstream_url as string);
    expect(upstream.hostname).toBe(env.HOST ?? "127.0.0.1");
    expect(upstream.port).toBe(String(repo.env.PORT ?? env.PORT ?? 3000));
    const server = read("functions/face-recognition/server.ts");
    expect(server, "ready_path must be a route the server answers").toContain(`"${env.ready_path}"`);
  });

  it("has Debian's ffmpeg, and FFMPEG_PATH pointing at it", () => {
    expect(runs(ship).join("\n")).toMatch(/apt-get install[^\n]*\bffmpeg\b/);
    expect(env.FFMPEG_PATH).toBe("/usr/bin/ffmpeg");
  });

  it("installs tfjs-node by running its install script alone, allowed for npm 11", () => {
    const text = runs(build).join("\n");
    expect(text).toMatch(/npm rebuild @tensorflow\/tfjs-node/);
    // npm 11 refuses --allow-scripts on a project's command line: .npmrc (or package.json's allowScripts).
    expect(text).not.toMatch(/--allow-scripts/);
    const allowed = /allow-scripts=@tensorflow\/tfjs-node[^\n]*>>?\s*\.npmrc/.test(text) || "allowScripts" in pkg;
    expect(allowed, "tfjs-node's install script is allowed for npm 11").toBe(true);
    expect(text, "the build checks that it loads").toMatch(/require\('@tensorflow\/tfjs-node'\)/);
    expect(pkg.optionalDependencies).toHaveProperty("@tensorflow/tfjs-node");
  });

  it("runs the unit tests in the build stage, then builds, then drops dev dependencies and source maps", () => {
    const list = runs(build);
    const test = list.findIndex((r) => /npm run test:unit/.test(r));
    const bundle = list.findIndex((r) => /\bnpm run build\b/.test(r));
    const prune = list.findIndex((r) => /npm prune --omit=dev/.test(r));
    expect(test).toBeGreaterThanOrEqual(0);
    expect(pkg.scripts?.["test:unit"]).toMatch(/vitest run --project unit/);
    expect(bundle, "the bundle is made from sources the tests passed on").toBeGreaterThan(test);
    expect(prune).toBeGreaterThan(bundle);
    expect(list[prune]).toMatch(/-name '\*\.map'/);
    // The final stage takes node_modules from the pruned build stage only.
    const modules = stageCopies(ship).filter((c) => c.sources.some((s) => s.endsWith("node_modules")));
    expect(modules.map((c) => c.from)).toEqual(["build"]);
  });

  it("copies the unit tests' imports into the build stage", () => {
    const copied = stageCopies(build)
      .filter((c) => !c.from)
      .flatMap((c) => c.sources);
    const testDirs = copied.filter((s) => s.startsWith("test/"));
    const closure = importClosure(unitTestFiles(testDirs));
    const outside = closure.files.filter((f) => !within(f, copied));
    expect(outside, "imported by the image's unit tests but not copied into the build stage").toEqual([]);
    const missing = [...closure.packages.keys()].filter(
      (p) => !(p in { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies }),
    );
    expect(missing).toEqual([]);
  });

  it("bakes the gallery where GALLERY points", () => {
    const gallery = stageCopies(ship).find((c) => c.sources.includes("functions/face-recognition/gallery.json"));
    expect(gallery?.dest).toBe(env.GALLERY);
    expect(repo.env.GALLERY).toBe(env.GALLERY);
  });

  it("sets the same watchdog timeouts and limits as stack.yml", () => {
    for (const name of ["exec_timeout", "read_timeout", "write_timeout", "max_inflight"]) {
      if (name in env) expect(env[name], name).toBe(repo.env[name]);
    }
  });
});

describe("faas-cli's build context (stack.yml configuration.copy + the handler folder)", () => {
  const handler = (repo.fn.handler ?? "").replace(/^\.\//, "");
  const copies = (repo.stack.configuration?.copy ?? []).map((p) => p.replace(/^\.\//, ""));

  it("builds the function from its folder, which holds the Dockerfile", () => {
    expect(repo.fn.lang).toBe("dockerfile");
    expect(`${handler}/Dockerfile`).toBe(FUNCTION_DOCKERFILE);
    expect(repo.stack.configuration?.templates?.map((t) => t.name)).toContain("dockerfile");
  });

  it("provides every path the Dockerfile copies from the context", () => {
    for (const copy of contextCopies(repo.functionDockerfile)) {
      for (const source of copy.sources) {
        expect(within(source, copies), `${source} (Dockerfile line ${copy.line}) is not in configuration.copy`).toBe(
          true,
        );
        expect(isIgnored(source, handlerIgnore), `${source} excluded by the handler's .dockerignore`).toBe(false);
      }
    }
  });

  it("copies only paths that exist, inside the project", () => {
    for (const path of copies) {
      expect(exists(path), path).toBe(true);
      expect(path.startsWith("..") || path.startsWith("/")).toBe(false);
    }
  });

  it("keeps secrets and installed modules out of both contexts", () => {
    for (const patterns of [rootIgnore, handlerIgnore]) {
      expect(isIgnored("node_modules", patterns)).toBe(true);
      expect(isIgnored("functions/face-recognition/node_modules", patterns)).toBe(true);
      expect(isIgnored("credentials.env", patterns)).toBe(true);
    }
    expect(isIgnored(".stack.env", rootIgnore)).toBe(true);
  });
  it("brings no local dist/ into either context: each image bundles the sources it was given", () => {
    const outDirs = [...new Set(bundles.map((b) => b.file.split("/")[0] as string))];
    for (const dir of outDirs) {
      expect(isIgnored(dir, rootIgnore), `${dir} in .dockerignore`).toBe(true);
      expect(
        copies.filter((c) => within(dir, [c]) || within(c, [dir])),
        `${dir} in configuration.copy`,
      ).toEqual([]);
      expect(exists(`${handler}/${dir}`), `${handler}/${dir}`).toBe(false);
    }
  });
});
