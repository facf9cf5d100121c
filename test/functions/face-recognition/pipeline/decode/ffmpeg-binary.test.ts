// The start-time check of ffmpeg (prepareDecoding): a missing or unusable ffmpeg stops the start with
// a message that names it, rather than failing every video later.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { prepareDecoding } from "../../../../../functions/face-recognition/pipeline/decode/decoder.js";
import { useFfmpeg } from "../../../../../functions/face-recognition/pipeline/decode/ffmpeg-binary.js";

describe("checking ffmpeg at start", () => {
  let dir: string;
  const path = process.env.PATH;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ffmpeg-check-"));
  });
  afterEach(() => {
    process.env.PATH = path;
    useFfmpeg(process.env.FFMPEG_PATH);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("accepts the ffmpeg on PATH", () => {
    expect(() => prepareDecoding("ffmpeg", "simple")).not.toThrow();
  });

  it("refuses an FFMPEG_PATH where there is no file, naming it", () => {
    expect(() => prepareDecoding(join(dir, "no-such-ffmpeg"), "simple")).toThrow(
      /ffmpeg not found: ".*no-such-ffmpeg" is not an executable file \(set FFMPEG_PATH/,
    );
  });

  it("refuses a file that cannot be run", async () => {
    const file = join(dir, "ffmpeg-not-executable");
    await writeFile(file, "#!/bin/sh\n");
    await chmod(file, 0o644);
    expect(() => prepareDecoding(file, "simple")).toThrow(/is not an executable file/);
  });

  it("looks a bare name up on PATH, as starting it would", () => {
    process.env.PATH = dir;
    expect(() => prepareDecoding("ffmpeg", "simple")).toThrow(/"ffmpeg" is not an executable file on PATH/);
  });
});
