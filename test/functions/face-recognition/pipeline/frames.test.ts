import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { VideoError } from "../../../../functions/face-recognition/pipeline/errors.js";
import { checkInput, PpmReader, startDecoder } from "../../../../functions/face-recognition/pipeline/ffmpeg.js";
import { processesBelow } from "../../../support/processes.js";
import { waitFor } from "../../../support/wait.js";
import {
  type Frame,
  indexComesFirst,
  startDecoderAhead,
  readFrames,
  stopDecodersAhead,
} from "../../../../functions/face-recognition/pipeline/frames.js";

const dir = mkdtempSync(join(tmpdir(), "frames-test-"));
const ffmpeg = (...args: string[]) => execFileSync("ffmpeg", ["-v", "error", "-y", ...args]);
const base = { fps: 2, maxWidth: 640, maxSeconds: 600, maxPixels: 4096 * 2304, inputFormat: "mov" as const };

async function collect(file: string, options = base) {
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
