import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../../../lib/config.js";
import { readRecognitionSettings } from "../../../../functions/face-recognition/config.js";
import { frameOptions } from "../../../../functions/face-recognition/runtime.js";
import { VideoError } from "../../../../functions/face-recognition/pipeline/errors.js";
import { checkInput, PpmReader, startDecoder } from "../../../../functions/face-recognition/pipeline/ffmpeg.js";
import { processesBelow } from "../../../../lib/process.js";
import { waitFor } from "../../../support/wait.js";
import {
  type Frame,
  type FrameOptions,
  indexComesFirst,
  startDecoderAhead,
  readFrames,
  stopDecodersAhead,
} from "../../../../functions/face-recognition/pipeline/frames.js";

const dir = mkdtempSync(join(tmpdir(), "frames-test-"));
const ffmpeg = (...args: string[]) => execFileSync("ffmpeg", ["-v", "error", "-y", ...args]);
const base = { fps: 2, maxWidth: 640, maxSeconds: 600, maxPixels: 4096 * 2304, inputFormat: "mov" as const };

async function collect(file: string, options: FrameOptions = base) {
  const frames = [];
  for await (const f of readFrames(file, options))
    frames.push({ index: f.index, timeMs: f.timeMs, width: f.width, height: f.height, bytes: f.rgb.length });
  return frames;
}

/** This process's ffmpegs (children of its ffmpeg host). */
const ffmpegChildren = () => processesBelow(process.pid).filter((p) => p.comm === "ffmpeg");

/** Our ffmpeg processes reading from stdin: decoders started ahead, or one streaming a video. */
function pipeDecoders(): number[] {
  return ffmpegChildren()
    .filter((p) => p.args.includes("pipe:0"))
    .map((p) => p.pid);
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
  // Index (moov) first, as most uploads from the web are: these can be streamed into ffmpeg.
  ffmpeg("-i", join(dir, "landscape.mp4"), "-c", "copy", "-movflags", "+faststart", join(dir, "landscape-fast.mp4"));
  ffmpeg("-i", join(dir, "long.mp4"), "-c", "copy", "-movflags", "+faststart", join(dir, "long-fast.mp4"));
  ffmpeg("-i", join(dir, "portrait.mp4"), "-c", "copy", "-movflags", "+faststart", join(dir, "portrait-fast.mp4"));
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

  it("on demand, keeps ffmpeg stopped while the consumer holds a frame, and gives the same frames", async () => {
    const file = join(dir, "long.mp4");
    const options = { ...base, fps: 1 };
    const digest = (f: Frame) => `${f.index} ${f.timeMs} ${createHash("md5").update(f.rgb).digest("hex")}`;
    const ffmpegStates = () =>
      ffmpegChildren()
        .filter((p) => p.args.includes(file))
        .map((p) => p.state.charAt(0));
    const held: string[][] = [];
    const onDemand: string[] = [];
    for await (const frame of readFrames(file, options, { onDemand: true })) {
      onDemand.push(digest(frame));
      if (held.length < 3) held.push(await waitFor(ffmpegStates, (states) => states[0] === "T"));
    }
    expect(held).toEqual([["T"], ["T"], ["T"]]);
    const ahead: string[] = [];
    for await (const frame of readFrames(file, options)) ahead.push(digest(frame));
    expect(onDemand).toHaveLength(20);
    expect(onDemand).toEqual(ahead);
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

describe("readFrames with an ffmpeg started ahead", () => {
  afterEach(() => stopDecodersAhead());

  it("streams an index-first MP4 into the waiting ffmpeg: same frames as from the file", async () => {
    for (const name of ["landscape-fast.mp4", "portrait-fast.mp4"]) {
      const cold: Frame[] = [];
      for await (const f of readFrames(join(dir, name), base)) cold.push(f);
      startDecoderAhead(base);
      const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
      const warm: Frame[] = [];
      for await (const f of readFrames(join(dir, name), base)) warm.push(f);
      expect(warm.map((f) => [f.index, f.timeMs, f.width, f.height])).toEqual(
        cold.map((f) => [f.index, f.timeMs, f.width, f.height]),
      );
      expect(warm.every((f, i) => f.rgb.equals(cold[i]?.rgb ?? Buffer.alloc(0)))).toBe(true);
      // The waiting process did the work and is gone; another waits for the next video.
      const after = await waitFor(pipeDecoders, (pids) => pids.length === 1 && pids[0] !== waiting);
      expect(after).toHaveLength(1);
      expect(after).not.toContain(waiting);
      stopDecodersAhead();
    }
  });

  it("leaves no ffmpeg behind when told to stop before its decoder has started", async () => {
    startDecoderAhead(base);
    stopDecodersAhead();
    await new Promise((r) => setTimeout(r, 500));
    expect(pipeDecoders()).toEqual([]);
  });

  it("reads an MP4 whose index comes last from the file, leaving the waiting decoder alone", async () => {
    startDecoderAhead(base);
    const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
    expect(await indexComesFirst(join(dir, "landscape.mp4"))).toBe(false);
    expect((await collect(join(dir, "landscape.mp4"))).map((f) => f.timeMs)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    expect(pipeDecoders()).toEqual([waiting]);
  });

  it("stops the streaming ffmpeg as soon as the consumer stops", async () => {
    startDecoderAhead(base);
    const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
    for await (const _ of readFrames(join(dir, "long-fast.mp4"), base)) break;
    const after = await waitFor(pipeDecoders, (pids) => !pids.includes(waiting as number));
    expect(after).not.toContain(waiting);
  });

  it("when the streaming ffmpeg dies mid-video, the file takes over and no frame is given twice or lost", async () => {
    startDecoderAhead(base);
    await waitFor(pipeDecoders, (pids) => pids.length === 1);
    const times: number[] = [];
    for await (const f of readFrames(join(dir, "long-fast.mp4"), base)) {
      times.push(f.timeMs);
      if (times.length === 2) for (const pid of pipeDecoders()) process.kill(pid, "SIGKILL");
    }
    expect(times).toEqual(Array.from({ length: 40 }, (_, i) => i * 500));
  });

  it("refuses a bad video with the same reason as without a waiting decoder", async () => {
    const file = join(dir, "cut-fast.mp4");
    const whole = readFileSync(join(dir, "long-fast.mp4"));
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 3)));
    const cold = await collect(file).then(
      () => "decoded",
      (err: Error) => err.message,
    );
    startDecoderAhead(base);
    await waitFor(pipeDecoders, (pids) => pids.length === 1);
    await expect(collect(file)).rejects.toThrow(cold);
    expect(cold).toBe("the video is truncated or damaged");
  });
});

describe("readFrames without stream probing", () => {
  it("gives the frames ffmpeg gives after probing the file in full", async () => {
    for (const name of ["landscape.mp4", "portrait.mp4", "long-fast.mp4"]) {
      const fast: Frame[] = [];
      for await (const f of readFrames(join(dir, name), base)) fast.push(f);
      const probed: Frame[] = [];
      for await (const f of startDecoder(join(dir, name), base).frames()) probed.push(f);
      expect(fast.map((f) => [f.index, f.timeMs, f.width, f.height])).toEqual(
        probed.map((f) => [f.index, f.timeMs, f.width, f.height]),
      );
      expect(fast.every((f, i) => f.rgb.equals(probed[i]?.rgb ?? Buffer.alloc(0)))).toBe(true);
    }
  });
});

describe("indexComesFirst", () => {
  it("tells an index-first MP4 from an index-last one and from other files", async () => {
    expect(await indexComesFirst(join(dir, "long-fast.mp4"))).toBe(true);
    expect(await indexComesFirst(join(dir, "long.mp4"))).toBe(false);
    const text = join(dir, "words.mp4");
    writeFileSync(text, "not a video at all");
    expect(await indexComesFirst(text)).toBe(false);
  });
});

describe("frames of any shape", () => {
  // The function's own frame options, from the default settings.
  const defaults = frameOptions(readSettings({}, readRecognitionSettings));
  const shapes = join(dir, "shapes");
  const clip = (name: string, source: string) =>
    ffmpeg(
      "-f",
      "lavfi",
      "-i",
      source,
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-pix_fmt",
      "yuv420p",
      join(shapes, name),
    );

  /** ffmpeg's own decode of the first frame, as displayed (rotation applied), scaled to w×h. */
  const displayed = (file: string, w: number, h: number, extra = "") =>
    execFileSync("ffmpeg", [
      "-v",
      "error",
      "-i",
      file,
      "-frames:v",
      "1",
      "-vf",
      `scale=${w}:${h}:flags=bilinear${extra}`,
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-",
    ]);
  const meanDifference = (a: Buffer, b: Buffer) =>
    a.reduce((sum, v, i) => sum + Math.abs(v - (b[i] ?? 0)), 0) / a.length;

  beforeAll(() => {
    mkdirSync(shapes);
    clip("64x16384.mp4", "testsrc=size=64x16384:rate=2:duration=1");
    clip("1000fps.mp4", "testsrc=size=160x120:rate=1000:duration=0.5");
    clip("160x1280.mp4", "testsrc=size=160x1280:rate=10:duration=2");
    // A phone held upright: pixels stored wide, rotation in the container's metadata.
    clip("wide.mp4", "testsrc=size=1280x160:rate=10:duration=1");
    ffmpeg("-i", join(shapes, "wide.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", join(shapes, "rotated.mp4"));
  });

  it("refuses a 64×16384 video for its aspect ratio before decoding a frame, with the function's limits", async () => {
    const started = performance.now();
    const refused = collect(join(shapes, "64x16384.mp4"), defaults);
    await expect(refused).rejects.toThrow(VideoError);
    await expect(refused).rejects.toThrow(
      "the video's frames are 64×16384, an aspect ratio of 256:1, over the limit of 8:1",
    );
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("refuses a 1000 fps clip, with the function's limits", async () => {
    await expect(collect(join(shapes, "1000fps.mp4"), defaults)).rejects.toThrow(
      "the video runs at 1000 frames per second, over the limit of 240",
    );
    // Under a limit that allows it, the same clip decodes: the refusal is the limit's.
    expect(await collect(join(shapes, "1000fps.mp4"), { ...defaults, maxFps: 1000 })).toHaveLength(1);
  });

  it("scales a tall video within the limits into the box: its longest side bounded", async () => {
    expect(defaults).toMatchObject({ maxWidth: 1920, maxHeight: 3840, maxAspect: 8, maxFps: 240 });
    const fits = await collect(join(shapes, "160x1280.mp4"), defaults);
    expect(fits.map((f) => [f.width, f.height])).toEqual(Array(4).fill([160, 1280]));
    const boxed = await collect(join(shapes, "160x1280.mp4"), { ...defaults, maxHeight: 640 });
    expect(boxed.map((f) => [f.width, f.height, f.bytes])).toEqual(Array(4).fill([80, 640, 80 * 640 * 3]));
  });

  it("without an aspect limit, a 64×16384 frame still comes out inside the box, in bounded time", async () => {
    const started = performance.now();
    const frames = await collect(join(shapes, "64x16384.mp4"), { ...defaults, maxAspect: undefined });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(frames.map((f) => [f.width, f.height])).toEqual([
      [16, 3840],
      [16, 3840],
    ]);
  });

  it("reads the stated size and rate as ffmpeg prints them: wide as well as tall, 29.97 fps, 2k fps", () => {
    const limits = { ...base, maxAspect: 8, maxFps: 30 };
    const header = (...details: string[]) => ({ video: "h264", duration: "00:00:02.00", video_details: details });
    expect(checkInput(header("h264", "yuv420p", "16384x64 [SAR 1:1 DAR 256:1]", "30 fps"), limits)).toBe(
      "the video's frames are 16384×64, an aspect ratio of 256:1, over the limit of 8:1",
    );
    expect(checkInput(header("h264", "yuv420p", "1280x160", "29.97 fps", "30 tbr"), limits)).toBeUndefined();
    expect(checkInput(header("h264", "yuv420p", "1280x720", "59.94 fps"), limits)).toBe(
      "the video runs at 59.94 frames per second, over the limit of 30",
    );
    expect(checkInput(header("h264", "yuv420p", "1280x720", "2k fps", "2k tbr"), limits)).toBe(
      "the video runs at 2000 frames per second, over the limit of 30",
    );
  });

  it("a portrait video with rotation metadata comes out upright and inside the box", async () => {
    const file = join(shapes, "rotated.mp4");
    const frames: Frame[] = [];
    for await (const f of readFrames(file, { ...defaults, maxHeight: 640 })) frames.push(f);
    expect(frames.map((f) => [f.width, f.height])).toEqual(Array(2).fill([80, 640]));
    const first = (frames[0] as Frame).rgb;
    // Upright as ffmpeg displays it, not upside down.
    expect(meanDifference(first, displayed(file, 80, 640))).toBeLessThan(2);
    expect(meanDifference(first, displayed(file, 80, 640, ",hflip,vflip"))).toBeGreaterThan(20);
  });
});

describe("abandoning and capping the decoding", () => {
  afterEach(() => stopDecodersAhead());

  it("an abort stops the streaming ffmpeg at once and throws its reason; the file is not read again", async () => {
    startDecoderAhead(base);
    const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
    const abandon = new AbortController();
    const reason = new Error("the caller closed the request");
    const times: number[] = [];
    const reading = (async () => {
      for await (const f of readFrames(join(dir, "long-fast.mp4"), base, { signal: abandon.signal })) {
        times.push(f.timeMs);
        abandon.abort(reason);
      }
    })();
    await expect(reading).rejects.toBe(reason);
    expect(times).toEqual([0]);
    expect(await waitFor(pipeDecoders, (pids) => !pids.includes(waiting as number))).not.toContain(waiting);
    // The way back to the file (after a failed stream) names the file to ffmpeg: it was not taken.
    expect(ffmpegChildren().filter((p) => p.args.includes("long-fast.mp4"))).toEqual([]);
  });

  it("an abort before the first frame leaves no ffmpeg on the file", async () => {
    const abandon = new AbortController();
    const frames = readFrames(join(dir, "long.mp4"), base, { signal: abandon.signal });
    const first = frames.next();
    abandon.abort(new Error("deadline"));
    await expect(first).rejects.toThrow("deadline");
    const left = await waitFor(
      () => ffmpegChildren().filter((p) => p.args.includes("long.mp4")),
      (ps) => ps.length === 0,
    );
    expect(left).toEqual([]);
  });

  it("stops decoding after maxFrames frames, sampled or not, from the file and streamed", async () => {
    // long.mp4: 20 s at 10 fps. 50 decoded frames are its first 5 s: 10 samples at 2 fps.
    const capped = { ...base, maxFrames: 50 };
    const expected = Array.from({ length: 10 }, (_, i) => i * 500);
    expect((await collect(join(dir, "long.mp4"), capped)).map((f) => f.timeMs)).toEqual(expected);
    startDecoderAhead(capped);
    await waitFor(pipeDecoders, (pids) => pids.length === 1);
    expect((await collect(join(dir, "long-fast.mp4"), capped)).map((f) => f.timeMs)).toEqual(expected);
  });
});
