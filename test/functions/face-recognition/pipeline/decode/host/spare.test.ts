// The host path's own ways (decode/host/): an ffmpeg started ahead that an index-first MP4 is
// streamed into, and ffmpeg stopped while a `first`-mode consumer holds a frame.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { processesBelow } from "../../../../../../lib/process.js";
import {
  type Frame,
  type FrameOptions,
  readFrames,
  startDecoderAhead,
  stopDecodersAhead,
  useDecoder,
} from "../../../../../../functions/face-recognition/pipeline/decode/decoder.js";
import { indexComesFirst } from "../../../../../../functions/face-recognition/pipeline/decode/host/spare.js";
import { elapse, waitFor } from "../../../../../support/wait.js";
import { abortAtFirstFrame, base, clipFolder, readAll } from "../support.js";

const { file, testClip, rotate90, indexFirst } = clipFolder("spare-test-");
const collect = (name: string, options: FrameOptions = base) => readAll(file(name), options);
const shape = (frames: Frame[]) => frames.map((f) => [f.index, f.timeMs, f.width, f.height]);

/** This process's ffmpegs (children of its ffmpeg host). */
const ffmpegChildren = () => processesBelow(process.pid).filter((p) => p.comm === "ffmpeg" && p.state !== "Z");
/** Our ffmpeg processes reading from stdin: decoders started ahead, or one streaming a video. */
const pipeDecoders = () =>
  ffmpegChildren()
    .filter((p) => p.args.includes("pipe:0"))
    .map((p) => p.pid);

beforeAll(() => {
  useDecoder("host");
  testClip("landscape.mp4", "testsrc=size=320x240:rate=10:duration=3");
  rotate90("landscape.mp4", "portrait.mp4");
  testClip("long.mp4", "testsrc=size=1920x1080:rate=10:duration=20");
  indexFirst("landscape.mp4", "landscape-fast.mp4");
  indexFirst("portrait.mp4", "portrait-fast.mp4");
  indexFirst("long.mp4", "long-fast.mp4");
});
afterEach(() => stopDecodersAhead());

describe("the host decoder on demand (`first` mode)", () => {
  it("keeps ffmpeg stopped while the consumer holds a frame, and gives the same frames", async () => {
    const options = { ...base, fps: 1 };
    const digest = (f: Frame) => `${f.index} ${f.timeMs} ${createHash("md5").update(f.rgb).digest("hex")}`;
    const ffmpegStates = () =>
      ffmpegChildren()
        .filter((p) => p.args.includes(file("long.mp4")))
        .map((p) => p.state.charAt(0));
    const held: string[][] = [];
    const onDemand: string[] = [];
    for await (const frame of readFrames(file("long.mp4"), options, { onDemand: true })) {
      onDemand.push(digest(frame));
      if (held.length < 3) held.push(await waitFor(ffmpegStates, (states) => states[0] === "T"));
    }
    expect(held).toEqual([["T"], ["T"], ["T"]]);
    const ahead: string[] = [];
    for await (const frame of readFrames(file("long.mp4"), options)) ahead.push(digest(frame));
    expect(onDemand).toHaveLength(20);
    expect(onDemand).toEqual(ahead);
  });
});

describe("the host decoder with an ffmpeg started ahead", () => {
  it("streams an index-first MP4 into the waiting ffmpeg: same frames as from the file", async () => {
    for (const name of ["landscape-fast.mp4", "portrait-fast.mp4"]) {
      const cold = await collect(name);
      startDecoderAhead(base);
      const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
      const warm = await collect(name);
      expect(shape(warm)).toEqual(shape(cold));
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
    // A quiet period: an ffmpeg started late would show up in it.
    await elapse(500);
    expect(pipeDecoders()).toEqual([]);
  });

  it("reads an MP4 whose index comes last from the file, leaving the waiting decoder alone", async () => {
    startDecoderAhead(base);
    const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
    expect(await indexComesFirst(file("landscape.mp4"))).toBe(false);
    expect((await collect("landscape.mp4")).map((f) => f.timeMs)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    expect(pipeDecoders()).toEqual([waiting]);
  });

  it("stops the streaming ffmpeg as soon as the consumer stops", async () => {
    startDecoderAhead(base);
    const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
    for await (const _ of readFrames(file("long-fast.mp4"), base)) break;
    expect(await waitFor(pipeDecoders, (pids) => !pids.includes(waiting as number))).not.toContain(waiting);
  });

  it("when the streaming ffmpeg dies mid-video, the file takes over and no frame is given twice or lost", async () => {
    startDecoderAhead(base);
    await waitFor(pipeDecoders, (pids) => pids.length === 1);
    const times: number[] = [];
    for await (const f of readFrames(file("long-fast.mp4"), base)) {
      times.push(f.timeMs);
      if (times.length === 2) for (const pid of pipeDecoders()) process.kill(pid, "SIGKILL");
    }
    expect(times).toEqual(Array.from({ length: 40 }, (_, i) => i * 500));
  });

  it("refuses a bad video with the same reason as without a waiting decoder", async () => {
    const whole = readFileSync(file("long-fast.mp4"));
    writeFileSync(file("cut-fast.mp4"), whole.subarray(0, Math.floor(whole.length / 3)));
    const cold = await collect("cut-fast.mp4").then(
      () => "decoded",
      (err: Error) => err.message,
    );
    startDecoderAhead(base);
    await waitFor(pipeDecoders, (pids) => pids.length === 1);
    await expect(collect("cut-fast.mp4")).rejects.toThrow(cold);
    expect(cold).toBe("the video is truncated or damaged");
  });

  it("an abort stops the streaming ffmpeg at once and throws its reason; the file is not read again", async () => {
    startDecoderAhead(base);
    const [waiting] = await waitFor(pipeDecoders, (pids) => pids.length === 1);
    const reason = new Error("the caller closed the request");
    const { times, thrown } = await abortAtFirstFrame(file("long-fast.mp4"), base, reason);
    expect(thrown).toBe(reason);
    expect(times).toEqual([0]);
    expect(await waitFor(pipeDecoders, (pids) => !pids.includes(waiting as number))).not.toContain(waiting);
    // The way back to the file (after a failed stream) names the file to ffmpeg: it was not taken.
    expect(ffmpegChildren().filter((p) => p.args.includes("long-fast.mp4"))).toEqual([]);
  });

  it("stops decoding after maxFrames frames, streamed as from the file", async () => {
    const capped = { ...base, maxFrames: 50 };
    startDecoderAhead(capped);
    await waitFor(pipeDecoders, (pids) => pids.length === 1);
    expect((await collect("long-fast.mp4", capped)).map((f) => f.timeMs)).toEqual(
      Array.from({ length: 10 }, (_, i) => i * 500),
    );
  });
});

describe("indexComesFirst", () => {
  it("tells an index-first MP4 from an index-last one and from other files", async () => {
    expect(await indexComesFirst(file("long-fast.mp4"))).toBe(true);
    expect(await indexComesFirst(file("long.mp4"))).toBe(false);
    writeFileSync(file("words.mp4"), "not a video at all");
    expect(await indexComesFirst(file("words.mp4"))).toBe(false);
  });
});
