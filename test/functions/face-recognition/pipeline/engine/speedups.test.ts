// The speedups' switch: on only where proven and on the versions they were written for. The
// speedups' outputs against stock are compared in fused-nets.test.ts and model-weights.test.ts, every
// recognition test runs on stock face-api too (vitest.config.ts, project "stock"), and the built
// function falls back to stock on another face-api version (test/deploy/engine-versions.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  decideSpeedups,
  installedVersions,
  PROVEN_BACKENDS,
  WRITTEN_FOR,
} from "../../../../../functions/face-recognition/pipeline/engine/speedups.js";

const ROOT = join(import.meta.dirname, "../../../../..");

describe("deciding the speedups", () => {
  const written = { ...WRITTEN_FOR };

  it("uses them on a proven backend with the versions they were written for", () => {
    expect(PROVEN_BACKENDS).toEqual(["wasm"]);
    expect(decideSpeedups("auto", "wasm", written)).toEqual({ enabled: true });
  });

  it("uses stock face-api when switched off, or on a backend where they are not proven", () => {
    expect(decideSpeedups("off", "wasm", written)).toMatchObject({ enabled: false, versionMismatch: false });
    for (const backend of ["tensorflow", "cpu"]) {
      const decision = decideSpeedups("auto", backend, written);
      expect(decision).toMatchObject({ enabled: false, versionMismatch: false });
      expect(decision.enabled === false && decision.reason).toContain(backend);
    }
  });

  it("falls back to stock on any other version of a package they rely on, naming it", () => {
    for (const name of Object.keys(WRITTEN_FOR)) {
      for (const version of ["0.0.1", undefined]) {
        const decision = decideSpeedups("auto", "wasm", { ...written, [name]: version });
        expect(decision).toMatchObject({ enabled: false, versionMismatch: true });
        expect(decision.enabled === false && decision.reason).toContain(`${name} is ${version ?? "missing"}`);
      }
    }
  });

  it("is written for exactly the versions package.json pins and node_modules holds", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    for (const [name, version] of Object.entries(WRITTEN_FOR)) expect(manifest.dependencies[name], name).toBe(version);
    expect(installedVersions()).toEqual(WRITTEN_FOR);
  });
});
