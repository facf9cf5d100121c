// Reads the repository as the deployment sees it: which settings the code reads (by scanning the
// source, so the checks follow the code as it changes), which files an entry point imports, and
// what the Dockerfiles, manifests and env example say. Pure functions over files; no services.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

export const ROOT = resolve(import.meta.dirname, "../../..");

export const rel = (file: string) => relative(ROOT, file).split("\\").join("/");
export const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
export const exists = (path: string) => existsSync(join(ROOT, path));

// ---------------------------------------------------------------------------------------------
// Settings the code reads

/** The SettingsReader methods of lib/config.ts (and its private raw()). */
const READER_METHODS = ["string", "optional", "int", "number", "bool", "oneOf", "url", "optionalUrl", "secret", "raw"];
const ENV_NAME = "[A-Z][A-Z0-9_]*";

export interface SettingRead {
  name: string;
  file: string;
  line: number;
  /** The reader method, "process.env", or "call" for a helper taking the name (e.g. optionalNumber("X")). */
  how: string;
  /** True when nothing supplies a value if the variable is unset: string()/url() without a fallback, a required secret. */
  required: boolean;
  /** For secrets: the file name under SECRETS_DIR. */
  secretFile?: string;
}

/** Comment lines out, so that examples in comments are not taken for reads. */
function codeLines(text: string): string[] {
  let inBlock = false;
  return text.split("\n").map((line) => {
    const t = line.trim();
    if (inBlock) {
      if (t.includes("*/")) inBlock = false;
      return "";
    }
    if (t.startsWith("/*")) {
      inBlock = !t.includes("*/");
      return "";
    }
    return t.startsWith("//") || t.startsWith("*") ? "" : line;
  });
}

/**
 * Every setting a file reads: `read.<method>("NAME"…)` for the SettingsReader methods, any other
 * call whose first argument is an env-style name in a settings module (wrappers such as
 * `optionalNumber("MATCH_THRESHOLD", …)`), `process.env.NAME`, `process.env["NAME"]`, and
 * `process.env[CONST]` where `const CONST = "NAME"` is in the same file.
 */
export function settingReads(file: string): SettingRead[] {
  const text = readFileSync(file, "utf8");
  const lines = codeLines(text);
  const code = lines.join("\n");
  const isSettingsModule = /\bSettingsReader\b|\breadSettings\(/.test(code);
  const constants = new Map<string, string>();
  for (const m of code.matchAll(new RegExp(`\\bconst\\s+(\\w+)\\s*=\\s*"(${ENV_NAME})"`, "g"))) {
    constants.set(m[1] as string, m[2] as string);
  }
  const out: SettingRead[] = [];
  const lineOf = (index: number) => code.slice(0, index).split("\n").length;
  const add = (read: Omit<SettingRead, "file" | "line">, index: number) =>
    out.push({ ...read, file: rel(file), line: lineOf(index) });

  const method = new RegExp(
    `\\b[\\w$]+\\s*\\.(${READER_METHODS.join("|")})\\(\\s*"(${ENV_NAME})"\\s*(\\)|,\\s*(?:"([^"]*)"\\s*(\\)|,\\s*(\\w+)))?)`,
    "g",
  );
  const seen = new Set<number>();
  for (const m of code.matchAll(method)) {
    const [, how, name, after, secondString, afterSecond, thirdWord] = m as unknown as (string | undefined)[];
    seen.add(m.index as number);
    if (how === "secret") {
      out.push({
        name: name as string,
        how,
        file: rel(file),
        line: lineOf(m.index as number),
        secretFile: secondString,
        // secret(name, file, required = true)
        required: afterSecond === ")" || thirdWord === "true",
      });
      continue;
    }
    const noFallback = after === ")";
    add(
      { name: name as string, how: how as string, required: (how === "string" || how === "url") && noFallback },
      m.index as number,
    );
  }
  if (isSettingsModule) {
    // Plain function calls only (a wrapper such as `port("STACK_RGW_PORT", …)`): method calls like
    // `child.kill("SIGKILL")` are not settings.
    for (const m of code.matchAll(new RegExp(`(?<![\\w$.])([\\w$]+)\\(\\s*"(${ENV_NAME})"`, "g"))) {
      const name = m[2] as string;
      if (seen.has(m.index as number) || name.length < 3 || name.startsWith("SIG")) continue;
      add({ name, how: "call", required: false }, m.index as number);
    }
  }
  // Assignments (`process.env.X ??= "…"`) set a variable for a library: not a setting of ours.
  const assigned = (index: number, length: number) => /^\s*(\?\?|\|\||&&)?=(?!=)/.test(code.slice(index + length));
  for (const m of code.matchAll(new RegExp(`process\\.env\\.(${ENV_NAME})\\b`, "g"))) {
    if (assigned(m.index as number, m[0].length)) continue;
    add({ name: m[1] as string, how: "process.env", required: false }, m.index as number);
  }
  for (const m of code.matchAll(/process\.env\[\s*(?:"([A-Z][A-Z0-9_]*)"|(\w+))\s*\]/g)) {
    const name = m[1] ?? constants.get(m[2] as string);
    if (assigned(m.index as number, m[0].length)) continue;
    if (name) add({ name, how: "process.env", required: false }, m.index as number);
  }
  return out;
}

/** .ts files under the given repository folders (no tests, no declarations). */
export function sourceFiles(dirs: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !/\.d\.ts$|\.test\.ts$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of dirs) if (existsSync(join(ROOT, dir))) walk(join(ROOT, dir));
  return files.sort();
}

/** The unit test files (not *.int.test.ts) under the given repository folders, as relative paths. */
export function unitTestFiles(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".test.ts") && !entry.name.endsWith(".int.test.ts")) out.push(path);
    }
  };
  for (const dir of dirs) if (existsSync(join(ROOT, dir))) walk(dir);
  return out.sort();
}

/** Settings read by these files, by name (a name read in several places keeps every read). */
export function settingsByName(files: string[]): Map<string, SettingRead[]> {
  const map = new Map<string, SettingRead[]>();
  for (const file of files) {
    for (const r of settingReads(file)) map.set(r.name, [...(map.get(r.name) ?? []), r]);
  }
  return map;
}

export const isRequired = (reads: SettingRead[]) => reads.some((r) => r.required);
export const secretFiles = (reads: Map<string, SettingRead[]>) =>
  new Map(
    [...reads.values()]
      .flat()
      .filter((r) => r.secretFile)
      .map((r) => [r.secretFile as string, r]),
  );

// ---------------------------------------------------------------------------------------------
// Imports

export interface Closure {
  /** Repository files (relative paths) the entries load, the entries included. */
  files: string[];
  /** Bare package names imported at run time → the files importing them. */
  packages: Map<string, string[]>;
  /** Relative imports that resolve to no file. */
  unresolved: string[];
}

const BUILTINS = new Set(builtinModules);

export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

/** `import … from "x"`, `export … from "x"`, `import("x")`, `require*("x")`; type-only imports are left out (erased). */
export function importSpecifiers(text: string): string[] {
  const code = codeLines(text).join("\n");
  const specs: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["']([^"']+)["']/gms;
  for (const m of code.matchAll(statement)) if (!m[2]) specs.push(m[4] as string);
  for (const m of code.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) specs.push(m[1] as string);
  for (const m of code.matchAll(/\b(?:import|require\w*)\(\s*["']([^"']+)["']\s*\)/g)) specs.push(m[1] as string);
  return specs;
}

function resolveLocal(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  const candidates = [
    base,
    base.replace(/\.js$/, ".ts"),
    base.replace(/\.mjs$/, ".mts"),
    `${base}.ts`,
    join(base, "index.ts"),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

export function importClosure(entries: string[]): Closure {
  const files = new Set<string>();
  const packages = new Map<string, string[]>();
  const unresolved: string[] = [];
  const queue = entries.map((e) => join(ROOT, e));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    if (!/\.(ts|mts|js|mjs)$/.test(file)) continue;
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      if (spec.startsWith(".") || spec.startsWith("/")) {
        const target = resolveLocal(file, spec);
        if (target) queue.push(target);
        else unresolved.push(`${rel(file)} → ${spec}`);
      } else if (!spec.startsWith("node:") && !BUILTINS.has(spec)) {
        const name = packageName(spec);
        packages.set(name, [...(packages.get(name) ?? []), rel(file)]);
      }
    }
  }
  return { files: [...files].map(rel).sort(), packages, unresolved };
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles

export interface Instruction {
  cmd: string;
  args: string;
  line: number;
}

export interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  args: Map<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const logical: { text: string; line: number }[] = [];
  let current: { text: string; line: number } | undefined;
  text.split("\n").forEach((raw, i) => {
    const t = raw.trim();
    if (t.startsWith("#") || (t === "" && !current)) return;
    const continued = t.endsWith("\\");
    const part = continued ? t.slice(0, -1).trim() : t;
    if (current) current.text += ` ${part}`;
    else current = { text: part, line: i + 1 };
    if (!continued) {
      logical.push(current);
      current = undefined;
    }
  });
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const { text: l, line } of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (!m) continue;
    const cmd = (m[1] as string).toUpperCase();
    const rest = (m[2] as string).trim();
    if (cmd === "FROM") {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      const image = (f?.[1] ?? rest).replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? `\${${n}}`);
      stages.push({ from: image, name: f?.[2], instructions: [] });
      continue;
    }
    if (cmd === "ARG" && stages.length === 0) {
      const [k, v] = rest.split("=", 2);
      args.set(k as string, (v ?? "").replace(/^"|"$/g, ""));
      continue;
    }
    stages.at(-1)?.instructions.push({ cmd, args: rest, line });
  }
  return { args, stages };
}

/** `ENV a=1 b="two words"` (and the legacy `ENV a 1`) → entries. */
export function parseEnvArgs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  const legacy = /^(\w+)\s+([^=]*)$/.exec(args);
  if (legacy && !args.includes("=")) {
    out[legacy[1] as string] = (legacy[2] as string).trim();
    return out;
  }
  for (const m of args.matchAll(/(\w+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g)) {
    out[m[1] as string] = m[3] ?? m[4] ?? m[5] ?? "";
  }
  return out;
}

/**
 * The stage's ENV, with `${NAME}` filled in from the stage's `ARG NAME[=default]`, whose value
 * without a default is the global ARG's (`globalArgs`), as Docker does with no --build-arg.
 */
export function stageEnv(stage: Stage, globalArgs: Map<string, string> = new Map()): Record<string, string> {
  const args = new Map<string, string>();
  const env: Record<string, string> = {};
  for (const i of stage.instructions) {
    if (i.cmd === "ARG") {
      const [name, value] = i.args.split("=", 2) as [string, string | undefined];
      args.set(name, value ?? globalArgs.get(name) ?? "");
    }
    if (i.cmd !== "ENV") continue;
    for (const [name, value] of Object.entries(parseEnvArgs(i.args)))
      env[name] = value.replace(/\$\{(\w+)\}/g, (whole, arg: string) => args.get(arg) ?? whole);
  }
  return env;
}

export interface Copy {
  from?: string;
  sources: string[];
  dest: string;
  line: number;
}

export function stageCopies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.cmd === "COPY" || i.cmd === "ADD")
    .map((i) => {
      const words = i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith("--"));
      const paths = words.filter((w) => !w.startsWith("--"));
      const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1) as string, line: i.line };
    });
}

/** JSON-array (exec) form or shell form of CMD/ENTRYPOINT. */
export function execWords(args: string): string[] {
  const t = args.trim();
  return t.startsWith("[") ? (JSON.parse(t) as string[]) : t.split(/\s+/);
}

// ---------------------------------------------------------------------------------------------
// .dockerignore (the subset of its syntax the repository uses)

export function ignorePatterns(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
      if (pattern[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}(/.*)?$`);
}

/** True when the path (relative to the context root) is excluded by one of the patterns. */
export function isIgnored(path: string, patterns: string[]): boolean {
  let ignored = false;
  for (const p of patterns) {
    const negate = p.startsWith("!");
    const pattern = (negate ? p.slice(1) : p).replace(/^\/+|\/+$/g, "");
    if (globToRegExp(pattern).test(path)) ignored = !negate;
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------------
// YAML manifests and the env example

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
  [key: string]: unknown;
}

export function loadYaml(path: string): unknown[] {
  const docs = parseAllDocuments(read(path));
  const errors = docs.flatMap((d) => d.errors.map((e) => `${path}: ${e.message}`));
  if (errors.length > 0) throw new Error(errors.join("\n"));
  return docs.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
}

export const loadManifests = (path: string) => loadYaml(path) as K8sObject[];

export interface EnvExampleEntry {
  name: string;
  value: string;
  /** Written as `# NAME=value`: documented, not set. */
  commented: boolean;
  line: number;
  /** The comment lines right above it (its documentation), without the `#`. */
  doc: string[];
}

export function parseEnvExample(text: string): Map<string, EnvExampleEntry> {
  const entries = new Map<string, EnvExampleEntry>();
  let doc: string[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) {
      entries.set(m[2] as string, { name: m[2] as string, value: m[3] as string, commented: !!m[1], line: i + 1, doc });
      // Consecutive entries share the comment block above the first.
      return;
    }
    if (line.startsWith("#")) {
      const prev = lines[i - 1]?.trim() ?? "";
      if (/^(#\s*)?[A-Z][A-Z0-9_]*=/.test(prev) || prev === "") doc = [];
      doc = [...doc, line.replace(/^#\s?/, "")];
    } else if (line === "") doc = [];
  });
  return entries;
}

/** Go durations as the watchdog and the gateway take them ("300s", "5m10s", "1h"); plain numbers are seconds. */
export function durationSeconds(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) throw new Error(`not a duration: ${value}`);
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unit[p[2] as string] as number), 0);
}

/** Kubernetes quantities: "1536Mi", "1Gi", "900M" → bytes; "2000m", "2" → cores. */
export function quantity(value: string | number): number {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(String(value));
  if (!m) throw new Error(`not a quantity: ${value}`);
  const factors: Record<string, number> = {
    "": 1,
    m: 0.001,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
  };
  const factor = factors[m[2] as string];
  if (factor === undefined) throw new Error(`unknown unit in ${value}`);
  return Number(m[1]) * factor;
}
