import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { VideoError } from "../../../../functions/face-recognition/pipeline/errors.js";
import { checkInput, PpmReader, readFrames } from "../../../../functions/face-recognition/pipeline/frames.js";

const dir = mkdtempSync(join(tmpdir(), "frames-test-"));
const ffmpeg = (...args: string[]) => execFileSync("ffmpeg", ["-v", "error", "-y", ...args]);
const base = { fps: 2, maxWidth: 640, maxSeconds: 600, maxPixels: 4096 * 2304, inputFormat: "mov" as const };

async function collect(file: string, options = base) {
  const frames = [];
  for await (const f of readFrames(file, options))
    frames.push({ index: f.index, timeMs: f.timeMs, width: f.width, height: f.height, bytes: f.rgb.length });
  return frames;
}

beforeAll(() => {
  ffmpeg(
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=320x240:rate=10:duration=3",
    "-pix_fmt",
    "yuv420p",
    join(dir, "landscape.mp4"),
  );
  // A phone held upright: pixels stored landscape, rotation in the container's metadata.
  ffmpeg("-i", join(dir, "landscape.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", join(dir, "portrait.mp4"));
  ffmpeg(
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=1920x1080:rate=10:duration=20",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    join(dir, "long.mp4"),
  );
});

describe("PpmReader", () => {
  it("cuts frames out of a stream whatever the chunk boundaries", () => {
    const frame = (w: number, h: number, fill: number) =>
      Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`), Buffer.alloc(w * h * 3, fill)]);
    const stream = Buffer.concat([frame(4, 2, 1), frame(2, 3, 2)]);
    for (const size of [1, 5, 7, 100]) {
      const reader = new PpmReader();
      const out = [];
      for (let i = 0; i < stream.length; i += size) out.push(...reader.push(stream.subarray(i, i + size)));
      expect(out.map((f) => [f.width, f.height, f.rgb.length, f.rgb[0]])).toEqual([
        [4, 2, 24, 1],
        [2, 3, 18, 2],
      ]);
      expect(reader.pendingBytes).toBe(0);
    }
  });
});

describe("readFrames", () => {
  it("samples at the requested rate, as raw RGB, with timestamps", async () => {
    const frames = await collect(join(dir, "landscape.mp4"));
    expect(frames.map((f) => f.timeMs)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    expect(frames[0]).toMatchObject({ width: 320, height: 240, bytes: 320 * 240 * 3 });
  });

  it("scales wide frames down inside ffmpeg and never up", async () => {
    const [small] = await collect(join(dir, "landscape.mp4"), { ...base, maxWidth: 160 });
    expect(small).toMatchObject({ width: 160, height: 120 });
    for await (const big of readFrames(join(dir, "long.mp4"), base)) {
      expect(big).toMatchObject({ width: 640, height: 360 });
      break;
    }
  });

  it("honours rotation metadata: a portrait video gives upright frames", async () => {
    const [frame] = await collect(join(dir, "portrait.mp4"));
    expect(frame).toMatchObject({ width: 240, height: 320 });
  });

  it("stops ffmpeg as soon as the consumer stops", async () => {
    const started = performance.now();
    for await (const _ of readFrames(join(dir, "long.mp4"), { ...base, fps: 10 })) break;
    expect(performance.now() - started).toBeLessThan(5_000);
    const stillRunning = execFileSync("ps", ["-eo", "args"])
      .toString()
      .split("\n")
      .filter((l) => l.includes(join(dir, "long.mp4")));
    expect(stillRunning).toEqual([]);
  });

  it("refuses a file that is not a video, naming the cause from ffmpeg's output", async () => {
    const file = join(dir, "text.mp4");
    writeFileSync(file, "hello, this is not a video\n".repeat(100));
    await expect(collect(file)).rejects.toThrow(VideoError);
    // Forced to the mov demuxer, ffmpeg finds no MP4 index in it.
    await expect(collect(file)).rejects.toThrow("the MP4 is incomplete or damaged (no index: moov atom not found)");
  });

  it("refuses videos longer than the limit before decoding them", async () => {
    await expect(collect(join(dir, "long.mp4"), { ...base, maxSeconds: 10 })).rejects.toThrow(
      /lasts 20.0 s, over the limit of 10 s/,
    );
  });

  it("refuses frames over the pixel limit", async () => {
    await expect(collect(join(dir, "long.mp4"), { ...base, maxPixels: 1280 * 720 })).rejects.toThrow(
      /1920×1080, over the limit/,
    );
  });
});

describe("checkInput", () => {
  it("requires a video stream", () => {
    expect(checkInput({ video: "", duration: "00:00:02.00" }, base)).toBe("the file has no video stream");
    expect(
      checkInput({ video: "h264", duration: "00:00:02.00", video_details: ["h264", "yuv420p", "640x360"] }, base),
    ).toBeUndefined();
  });
});
