// The scanner the deployment checks rely on: what counts as reading a setting, and what does not.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  durationSeconds,
  importSpecifiers,
  isIgnored,
  parseDockerfile,
  parseEnvArgs,
  quantity,
  settingReads,
} from "./support/scan.js";

const dir = mkdtempSync(join(tmpdir(), "facerec-scan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function reads(code: string) {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, code);
  return Object.fromEntries(
    settingReads(file).map((r) => [r.name, { required: r.required, secretFile: r.secretFile, how: r.how }]),
  );
}

describe("settingReads", () => {
  it("reads the SettingsReader methods, with or without a fallback", () => {
    const found = reads(`
      export function readX(read: SettingsReader) {
        const port = (name: string, fallback: number) => read.int(name, fallback);
        return {
          a: read.string("NEEDED"),
          b: read.string("HAS_DEFAULT", "x"),
          c: read.url("URL_NEEDED"),
          d: read.int("COUNT", 3, { min: 1 }),
          e: read.secret("KEY_ID", "key-id"),
          f: read.secret("TOKEN", "token-file", false),
          g: read
            .string("ON_NEXT_LINE", "y"),
          h: port("WRAPPED_PORT", 80),
          i: read.optional("MAYBE"),
        };
      }`);
    expect(found.NEEDED).toMatchObject({ required: true });
    expect(found.HAS_DEFAULT).toMatchObject({ required: false });
    expect(found.URL_NEEDED).toMatchObject({ required: true });
    expect(found.COUNT).toMatchObject({ required: false });
    expect(found.KEY_ID).toMatchObject({ required: true, secretFile: "key-id" });
    expect(found.TOKEN).toMatchObject({ required: false, secretFile: "token-file" });
    expect(found.ON_NEXT_LINE).toMatchObject({ required: false });
    expect(found.WRAPPED_PORT).toMatchObject({ how: "call" });
    expect(found.MAYBE).toMatchObject({ required: false });
  });

  it("reads process.env, directly or through a constant, but not assignments or comments", () => {
    const found = reads(`
      const DATA_ENV = "DATA_DIR";
      // read.string("IN_A_COMMENT")
      const a = process.env.LOG_LEVEL;
      const b = process.env[DATA_ENV];
      const c = process.env["BRACKETED"];
      process.env.FOR_A_LIBRARY ??= "true";
      child.kill("SIGKILL");
    `);
    expect(Object.keys(found).sort()).toEqual(["BRACKETED", "DATA_DIR", "LOG_LEVEL"]);
  });
});

describe("the other parsers", () => {
  it("parses a Dockerfile's stages, ARG defaults and ENV", () => {
    const dockerfile = [
      "ARG BASE=node:20",
      "FROM $" + "{BASE} AS build",
      "ENV A=1 \\",
      '    B="two words"',
      "FROM build",
    ];
    const d = parseDockerfile(`${dockerfile.join("\n")}\n`);
    expect(d.stages.map((s) => [s.from, s.name])).toEqual([
      ["node:20", "build"],
      ["build", undefined],
    ]);
    expect(parseEnvArgs("A=1 B=\"two words\" C='x'")).toEqual({ A: "1", B: "two words", C: "x" });
  });

  it("finds run-time imports and leaves type-only ones out", () => {
    const specs = importSpecifiers(
      'import type { A } from "typed";\nimport { b, type C } from "./b.js";\nexport * from "./c.js";\nconst d = await import("dyn");\nconst e = requireFromHere("ffmpeg-static");\n',
    );
    expect(specs.sort()).toEqual(["./b.js", "./c.js", "dyn", "ffmpeg-static"]);
  });

  it("matches .dockerignore patterns", () => {
    const patterns = ["**/node_modules", "**/*.env", "test/deploy", "build"];
    expect(isIgnored("node_modules", patterns)).toBe(true);
    expect(isIgnored("functions/x/node_modules/y", patterns)).toBe(true);
    expect(isIgnored("credentials.env", patterns)).toBe(true);
    expect(isIgnored("credentials.env.example", patterns)).toBe(false);
    expect(isIgnored("test/deploy/a.test.ts", patterns)).toBe(true);
    expect(isIgnored("test/lib", patterns)).toBe(false);
    expect(isIgnored("lib/build.ts", patterns)).toBe(false);
  });

  it("reads Go durations and Kubernetes quantities", () => {
    expect(durationSeconds("5m10s")).toBe(310);
    expect(durationSeconds("300s")).toBe(300);
    expect(durationSeconds("90")).toBe(90);
    expect(() => durationSeconds("5 minutes")).toThrow();
    expect(quantity("1536Mi")).toBe(1536 * 1024 * 1024);
    expect(quantity("2000m")).toBe(2);
  });
});
