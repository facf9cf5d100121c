// The two images, checked without Docker: base images, users, the watchdog's settings, and that
// each image contains every file its entry point imports and every package it needs at run time
// (no dev dependency), whether built by `docker build` from the root or by `faas-cli build`.
import { describe, expect, it } from "vitest";
import { FUNCTION_DOCKERFILE, loadRepo, TRIGGER_DOCKERFILE } from "./support/repo.js";
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

const named = (d: Dockerfile, name: string) => d.stages.find((s) => s.name === name) as Stage;
const runs = (stage: Stage) => stage.instructions.filter((i) => i.cmd === "RUN").map((i) => i.args);

/** Repository paths an image ships: `COPY --from=<build> /home/app/X ./X` in the last stage, X copied into <build> from the context. */
function shippedPaths(d: Dockerfile): string[] {
  const ship = d.stages.at(-1) as Stage;
  const workdir = "/home/app/";
  const paths: string[] = [];
  for (const copy of stageCopies(ship)) {
    if (!copy.from) continue;
    const build = named(d, copy.from);
    if (!build) continue; // another image (the watchdog)
    for (const source of copy.sources) {
      const path = source.replace(workdir, "");
      // Only what reached the build stage from the context counts as shipped source.
      const fromContext = stageCopies(build).some(
        (c) => !c.from && c.sources.some((s) => s === path || path.startsWith(`${s}/`) || s.startsWith(`${path}/`)),
      );
      if (fromContext) paths.push(path);
    }
  }
  return paths;
}

const within = (file: string, dirs: string[]) => dirs.some((d) => file === d || file.startsWith(`${d}/`));

/** Every COPY from the build context. */
const contextCopies = (d: Dockerfile): Copy[] => d.stages.flatMap((s) => stageCopies(s).filter((c) => !c.from));

describe.each([
  { image: "function", file: FUNCTION_DOCKERFILE, dockerfile: repo.functionDockerfile, closure: repo.functionClosure },
  { image: "trigger", file: TRIGGER_DOCKERFILE, dockerfile: repo.triggerDockerfile, closure: repo.triggerClosure },
])("the $image image ($file)", ({ dockerfile, closure }) => {
  const ship = dockerfile.stages.at(-1) as Stage;

  it("is built on Debian slim with Node 20 (tfjs-node needs glibc: no Alpine)", () => {
    for (const stage of dockerfile.stages.filter((s) => s.from.startsWith("node:"))) {
      expect(stage.from).toMatch(/^node:20(\.\d+)*-bookworm-slim$/);
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

  it("ships every file its entry point imports", () => {
    const shipped = shippedPaths(dockerfile);
    const missing = closure.files.filter((f) => !within(f, shipped));
    expect(missing, `not in the image (it has ${shipped.join(", ")})`).toEqual([]);
  });

  it("needs no dev dependency at run time", () => {
    const dev = [...closure.packages].filter(([name]) => !runtimePackages.has(name)).map(([n, f]) => `${n} (${f[0]})`);
    expect(dev, "imported at run time but not in dependencies/optionalDependencies").toEqual([]);
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

  it("installs production dependencies without their own install scripts", () => {
    const install = dockerfile.stages.flatMap(runs).filter((r) => /\bnpm (ci|install)\b/.test(r));
    expect(install.length).toBeGreaterThan(0);
    for (const run of install) expect(run).toMatch(/--ignore-scripts/);
    const shipRuns = runs(ship).join("\n");
    expect(shipRuns, "no npm in the final stage").not.toMatch(/\bnpm\b/);
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

  it("runs the watchdog in http mode in front of the function's server", () => {
    expect(env.mode).toBe("http");
    const upstream = new URL(env.upstream_url as string);
    expect(upstream.hostname).toBe(env.HOST ?? "127.0.0.1");
    expect(upstream.port).toBe(String(repo.env.PORT ?? env.PORT ?? 3000));
    const server = read("functions/face-recognition/server.ts");
    expect(server, "ready_path must be a route the server answers").toContain(`"${env.ready_path}"`);
  });

  it("starts the local command: node with tsx on the function's entry point", () => {
    const words = (env.fprocess as string).split(" "); // the watchdog splits fprocess on spaces, no shell
    expect(words[0]).toBe("node");
    const script = words.at(-1) as string;
    expect(script).toBe("functions/face-recognition/index.ts");
    expect(exists(script)).toBe(true);
    expect(pkg.scripts?.function, "the same entry as `npm run function`").toContain(script);
    const loader = words[words.indexOf("--import") + 1] as string;
    expect(pkg.dependencies, "the loader is a production dependency").toHaveProperty(loader);
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

  it("runs the unit tests in the build stage, then drops dev dependencies and source maps", () => {
    const list = runs(build);
    const test = list.findIndex((r) => /npm run test:unit/.test(r));
    const prune = list.findIndex((r) => /npm prune --omit=dev/.test(r));
    expect(test).toBeGreaterThanOrEqual(0);
    expect(pkg.scripts?.["test:unit"]).toMatch(/vitest run --project unit/);
    expect(prune).toBeGreaterThan(test);
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
});
