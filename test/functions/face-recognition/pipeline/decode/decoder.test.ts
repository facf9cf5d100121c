// The decode stage for real: ffmpeg on clips made here, through readFrames.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../../../../lib/config.js";
import { processesBelow, procText } from "../../../../../lib/process.js";
import { readRecognitionSettings } from "../../../../../functions/face-recognition/config.js";
import { frameOptions } from "../../../../../functions/face-recognition/runtime.js";
import { VideoError } from "../../../../../functions/face-recognition/pipeline/errors.js";
import {
  DECODERS,
  type DecoderKind,
  type Frame,
  type FrameOptions,
  type ReadingOptions,
  readFrames,
  startDecoderAhead,
  stopDecodersAhead,
  useDecoder,
} from "../../../../../functions/face-recognition/pipeline/decode/decoder.js";
import { elapse, waitFor } from "../../../../support/wait.js";
import { abortAtFirstFrame, base, clipFolder, readAll } from "./support.js";

const { file, testClip, rotate90, indexFirst } = clipFolder("decoder-test-");

// The function's own frame options, from the default settings.
const defaults = frameOptions(readSettings({}, readRecognitionSettings));

/** The frames' positions and sizes. */
const collect = async (name: string, options: FrameOptions = base) =>
  (await readAll(file(name), options)).map((f) => ({
    index: f.index,
    timeMs: f.timeMs,
    width: f.width,
    height: f.height,
    bytes: f.rgb.length,
  }));

/** This process's ffmpegs reading the file. */
const ffmpegsOn = (name: string) =>
  processesBelow(process.pid).filter((p) => p.comm === "ffmpeg" && p.args.includes(file(name)) && p.state !== "Z");
/** This process's ffmpegs on the file once they are all gone (what is left after 2 s). */
const noFfmpegLeftOn = (name: string) =>
  waitFor(
    () => ffmpegsOn(name),
    (left) => left.length === 0,
    2_000,
  );

beforeAll(() => {
  testClip("landscape.mp4", "testsrc=size=320x240:rate=10:duration=3");
  rotate90("landscape.mp4", "portrait.mp4");
  testClip("long.mp4", "testsrc=size=1920x1080:rate=10:duration=20");
  testClip("64x16384.mp4", "testsrc=size=64x16384:rate=2:duration=1");
  testClip("1000fps.mp4", "testsrc=size=160x120:rate=1000:duration=0.5");
  testClip("160x1280.mp4", "testsrc=size=160x1280:rate=10:duration=2");
  testClip("wide.mp4", "testsrc=size=1280x160:rate=10:duration=1");
  rotate90("wide.mp4", "rotated.mp4");
});

// Every behaviour holds on both decoders.
describe.each(DECODERS)("the %s decoder", (kind) => {
  beforeAll(() => useDecoder(kind));

  describe("readFrames", () => {
    it("samples at the requested rate, as raw RGB, with timestamps", async () => {
      const frames = await collect("landscape.mp4");
      expect(frames.map((f) => f.timeMs)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
      expect(frames[0]).toMatchObject({ width: 320, height: 240, bytes: 320 * 240 * 3 });
    });

    it("scales wide frames down inside ffmpeg and never up", async () => {
      const [small] = await collect("landscape.mp4", { ...base, maxWidth: 160 });
      expect(small).toMatchObject({ width: 160, height: 120 });
      for await (const big of readFrames(file("long.mp4"), base)) {
        expect(big).toMatchObject({ width: 640, height: 360 });
        break;
      }
    });

    it("honours rotation metadata: a portrait video gives upright frames", async () => {
      const [frame] = await collect("portrait.mp4");
      expect(frame).toMatchObject({ width: 240, height: 320 });
    });

    it("stops ffmpeg as soon as the consumer stops", async () => {
      const started = performance.now();
      for await (const _ of readFrames(file("long.mp4"), { ...base, fps: 10 })) break;
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(await noFfmpegLeftOn("long.mp4")).toEqual([]);
    });

    it("refuses a file that is not a video, naming the cause from ffmpeg's output", async () => {
      writeFileSync(file("text.mp4"), "hello, this is not a video\n".repeat(100));
      await expect(collect("text.mp4")).rejects.toThrow(VideoError);
      // Forced to the mov demuxer, ffmpeg finds no MP4 index in it.
      await expect(collect("text.mp4")).rejects.toThrow(
        "the MP4 is incomplete or damaged (no index: moov atom not found)",
      );
    });

    it("refuses a cut-off upload as truncated rather than half-read", async () => {
      // Index first: what is left of the data is decodable.
      indexFirst("long.mp4", "long-fast.mp4");
      const whole = readFileSync(file("long-fast.mp4"));
      writeFileSync(file("cut.mp4"), whole.subarray(0, Math.floor(whole.length / 3)));
      await expect(collect("cut.mp4")).rejects.toThrow(new VideoError("the video is truncated or damaged"));
    });

    it("refuses videos longer than the limit before decoding them", async () => {
      await expect(collect("long.mp4", { ...base, maxSeconds: 10 })).rejects.toThrow(
        /lasts 20.0 s, over the limit of 10 s/,
      );
    });

    it("refuses frames over the pixel limit", async () => {
      await expect(collect("long.mp4", { ...base, maxPixels: 1280 * 720 })).rejects.toThrow(
        /1920×1080, over the limit/,
      );
    });

    it("gives, without stream probing (MP4/MOV), the frames ffmpeg gives after probing the file in full", async () => {
      for (const name of ["landscape.mp4", "portrait.mp4", "long.mp4"]) {
        const fast: Frame[] = [];
        for await (const f of readFrames(file(name), base)) fast.push(f);
        const probed: Frame[] = [];
        for await (const f of readFrames(file(name), { ...base, inputFormat: undefined })) probed.push(f);
        expect(fast.map((f) => [f.index, f.timeMs, f.width, f.height])).toEqual(
          probed.map((f) => [f.index, f.timeMs, f.width, f.height]),
        );
        expect(fast.every((f, i) => f.rgb.equals(probed[i]?.rgb ?? Buffer.alloc(0)))).toBe(true);
      }
    });

    it("when the unprobed ffmpeg dies mid-video, the file probed in full takes over: no frame given twice or lost", async () => {
      const times: number[] = [];
      for await (const f of readFrames(file("long.mp4"), base)) {
        times.push(f.timeMs);
        if (times.length === 2) for (const { pid } of ffmpegsOn("long.mp4")) process.kill(pid, "SIGKILL");
      }
      expect(times).toEqual(Array.from({ length: 40 }, (_, i) => i * 500));
    });
  });

  describe("frames of any shape, with the function's limits", () => {
    /** ffmpeg's own decode of the first frame, as displayed (rotation applied), scaled to w×h. */
    const displayed = (name: string, w: number, h: number, extra = "") =>
      execFileSync("ffmpeg", [
        ...["-v", "error", "-i", file(name), "-frames:v", "1"],
        ...["-vf", `scale=${w}:${h}:flags=bilinear${extra}`, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
      ]);
    const meanDifference = (a: Buffer, b: Buffer) =>
      a.reduce((sum, v, i) => sum + Math.abs(v - (b[i] ?? 0)), 0) / a.length;

    it("refuses a 64×16384 video for its aspect ratio before decoding a frame", async () => {
      const started = performance.now();
      const refused = collect("64x16384.mp4", defaults);
      await expect(refused).rejects.toThrow(VideoError);
      await expect(refused).rejects.toThrow(
        "the video's frames are 64×16384, an aspect ratio of 256:1, over the limit of 8:1",
      );
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it("refuses a 1000 fps clip", async () => {
      await expect(collect("1000fps.mp4", defaults)).rejects.toThrow(
        "the video runs at 1000 frames per second, over the limit of 240",
      );
      // Under a limit that allows it, the same clip decodes: the refusal is the limit's.
      expect(await collect("1000fps.mp4", { ...defaults, maxFps: 1000 })).toHaveLength(1);
    });

    it("scales a tall video within the limits into the box: its longest side bounded", async () => {
      expect(defaults).toMatchObject({ maxWidth: 1920, maxHeight: 3840, maxAspect: 8, maxFps: 240 });
      const fits = await collect("160x1280.mp4", defaults);
      expect(fits.map((f) => [f.width, f.height])).toEqual(Array(4).fill([160, 1280]));
      const boxed = await collect("160x1280.mp4", { ...defaults, maxHeight: 640 });
      expect(boxed.map((f) => [f.width, f.height, f.bytes])).toEqual(Array(4).fill([80, 640, 80 * 640 * 3]));
    });

    it("without an aspect limit, a 64×16384 frame still comes out inside the box, in bounded time", async () => {
      const started = performance.now();
      const frames = await collect("64x16384.mp4", { ...defaults, maxAspect: undefined });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(frames.map((f) => [f.width, f.height])).toEqual([
        [16, 3840],
        [16, 3840],
      ]);
    });

    it("a portrait video with rotation metadata comes out upright and inside the box", async () => {
      const frames: Frame[] = [];
      for await (const f of readFrames(file("rotated.mp4"), { ...defaults, maxHeight: 640 })) frames.push(f);
      expect(frames.map((f) => [f.width, f.height])).toEqual(Array(2).fill([80, 640]));
      const first = (frames[0] as Frame).rgb;
      // Upright as ffmpeg displays it, not upside down.
      expect(meanDifference(first, displayed("rotated.mp4", 80, 640))).toBeLessThan(2);
      expect(meanDifference(first, displayed("rotated.mp4", 80, 640, ",hflip,vflip"))).toBeGreaterThan(20);
    });
  });

  describe("abandoning and capping the decoding", () => {
    it("an abort stops ffmpeg at once and throws its reason; the file is not read again", async () => {
      const reason = new Error("the caller closed the request");
      const { times, thrown } = await abortAtFirstFrame(file("long.mp4"), base, reason);
      expect(thrown).toBe(reason);
      expect(times).toEqual([0]);
      expect(await noFfmpegLeftOn("long.mp4")).toEqual([]);
    });

    it("an abort before the first frame leaves no ffmpeg on the file", async () => {
      const abandon = new AbortController();
      const frames = readFrames(file("long.mp4"), base, { signal: abandon.signal });
      const first = frames.next();
      abandon.abort(new Error("deadline"));
      await expect(first).rejects.toThrow("deadline");
      expect(await noFfmpegLeftOn("long.mp4")).toEqual([]);
    });

    it("stops decoding after maxFrames frames, sampled or not", async () => {
      // long.mp4: 20 s at 10 fps. 50 decoded frames are its first 5 s: 10 samples at 2 fps.
      const expected = Array.from({ length: 10 }, (_, i) => i * 500);
      expect((await collect("long.mp4", { ...base, maxFrames: 50 })).map((f) => f.timeMs)).toEqual(expected);
    });
  });
});

describe("the simple decoder, ahead of a consumer holding the first frame, decodes", () => {
  beforeAll(() => useDecoder("simple"));

  const frameBytes = 640 * 360 * 3;
  /** Bytes the decoder of long.mp4 has written so far, with the first frame held; then the rest of the frames. */
  async function holdFirst(reading: ReadingOptions, enough: (written: number) => boolean) {
    const frames = readFrames(file("long.mp4"), base, reading);
    await frames.next();
    const [decoder] = await waitFor(
      () => ffmpegsOn("long.mp4"),
      (ps) => ps.length === 1,
    );
    const written = () => Number(/wchar: (\d+)/.exec(procText(decoder?.pid as number, "io") ?? "")?.[1]);
    await waitFor(written, enough);
    // Unchecked, ffmpeg would write the 39 frames left in well under this time.
    await elapse(1_000);
    const heldWritten = written();
    let rest = 0;
    for await (const _ of frames) rest++;
    return { heldWritten, rest };
  }

  it("on demand, no more than the next frame (the pipe's back-pressure)", async () => {
    const { heldWritten, rest } = await holdFirst({ onDemand: true }, (w) => w > frameBytes);
    expect(heldWritten).toBeLessThan(2.5 * frameBytes);
    expect(rest).toBe(39);
  });

  it("otherwise, a few frames: decoding overlaps the consumer's work, in bounded memory", async () => {
    const { heldWritten, rest } = await holdFirst({}, (w) => w > 4 * frameBytes);
    expect(heldWritten).toBeLessThan(7 * frameBytes);
    expect(rest).toBe(39);
  });
});

describe("the two decoders", () => {
  afterAll(() => stopDecodersAhead());

  it("give the same frames, from the file and (host) streamed into an ffmpeg started ahead", async () => {
    indexFirst("portrait.mp4", "portrait-fast.mp4");
    const options = { ...defaults, maxHeight: 640 };
    const digests = async (kind: DecoderKind, name: string) => {
      useDecoder(kind);
      const out: string[] = [];
      for await (const f of readFrames(file(name), options))
        out.push(`${f.index} ${f.timeMs} ${f.width}x${f.height} ${createHash("md5").update(f.rgb).digest("hex")}`);
      return out;
    };
    const clips = ["landscape.mp4", "portrait.mp4", "portrait-fast.mp4", "rotated.mp4", "160x1280.mp4"];
    for (const name of clips) expect(await digests("host", name)).toEqual(await digests("simple", name));
    const simple = await digests("simple", "portrait-fast.mp4");
    useDecoder("host");
    startDecoderAhead(options);
    // The ffmpeg waiting on its stdin is the one that decodes the video: it is gone after.
    const waitingOnStdin = () =>
      processesBelow(process.pid)
        .filter((p) => p.comm === "ffmpeg" && p.args.includes("pipe:0") && p.state !== "Z")
        .map((p) => p.pid);
    const [waiting] = await waitFor(waitingOnStdin, (pids) => pids.length === 1);
    expect(await digests("host", "portrait-fast.mp4")).toEqual(simple);
    expect(await waitFor(waitingOnStdin, (pids) => !pids.includes(waiting as number))).not.toContain(waiting);
  });
});
