// Stage 2: video → frames. fluent-ffmpeg starts ffmpeg on the downloaded file; ffmpeg samples it
// at a fixed rate, applies its rotation, scales each frame into a box and writes it as PPM (raw
// RGB with its own size) to its stdout, which is cut into frames here. Nothing touches disk, and
// the pipe's back-pressure bounds how far ffmpeg decodes ahead of the consumer.
// One setting, DECODER, chooses this simple path or the host path (host/): ffmpeg started by a
// small forked process, one kept started ahead for the next video (README, speed, says which pays).
import { PassThrough } from "node:stream";
import { VideoError } from "../errors.js";
import { fastThenProbed, fastWayApplies } from "./fallback.js";
import { inputOptions, outputOptions } from "./ffmpeg-args.js";
import { checkFfmpeg, currentFfmpeg, useFfmpeg } from "./ffmpeg-binary.js";
import { startFfmpegHost } from "./host/ffmpeg-remote.js";
import { readFramesThroughHost, startDecoderAhead as startSpare } from "./host/spare.js";
import { type DecoderKind, type Frame, type FrameOptions, type ReadingOptions, sampleTimeMs } from "./options.js";
import { PpmReader } from "./ppm.js";
import { type CodecData, checkInput, FfmpegStderr, TRUNCATED } from "./refusals.js";

export type { Frame, FrameOptions, ReadingOptions } from "./options.js";
export { stopDecodersAhead } from "./host/spare.js";

export { DECODERS, type DecoderKind } from "./options.js";
/** DECODER (config.ts): `host` unless set; `simple` spawns ffmpeg from this process (this file). */
let decoder: DecoderKind = "host";

/** Chooses the decoder from now on (the function's start, tests, the bench). */
export function useDecoder(kind: DecoderKind): void {
  decoder = kind;
}

/**
 * The sampled frames in order; leaving the loop, or an abort, kills ffmpeg at once. MP4/MOV is
 * first decoded without ffmpeg's stream probing (its index states what decoding needs); should
 * that fail, the file probed in full decides, and frames already given are not given again.
 */
export async function* readFrames(
  file: string,
  options: FrameOptions,
  reading: ReadingOptions = {},
): AsyncGenerator<Frame> {
  if (decoder === "host") {
    yield* readFramesThroughHost(file, options, reading);
    return;
  }
  if (fastWayApplies(options)) {
    yield* fastThenProbed(
      decode(file, options, false, reading),
      () => decode(file, options, true, reading),
      reading.signal,
    );
  } else {
    yield* decode(file, options, true, reading);
  }
}

/** How many (16:9) frames ffmpeg may decode ahead of a consumer that reads every frame. */
const FRAMES_AHEAD = 4;

/** fluent-ffmpeg, loaded by the simple path only: on the host path it runs in the host process. */
const fluentFfmpeg = () => import("fluent-ffmpeg").then((module) => module.default);

/** One ffmpeg run on the file, as a stream of frames. */
async function* decode(file: string, options: FrameOptions, probe: boolean, { onDemand, signal }: ReadingOptions) {
  const ffmpeg = await fluentFfmpeg();
  signal?.throwIfAborted();
  // The bytes ffmpeg may write ahead of the consumer: a few frames' worth (decoding overlaps the
  // consumer's work), or on demand only what the pipe holds.
  const frameBytes = options.maxWidth * Math.ceil((options.maxWidth * 9) / 16) * 3;
  const output = new PassThrough(onDemand ? {} : { readableHighWaterMark: FRAMES_AHEAD * frameBytes });
  const command = ffmpeg(file)
    .setFfmpegPath(currentFfmpeg())
    .inputOptions(inputOptions(options, { probe, input: "file" }))
    .outputOptions(outputOptions(options))
    .output(output);
  const stderr = new FfmpegStderr();
  let refusal: VideoError | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    command.kill("SIGKILL");
    output.destroy();
  };
  // fluent-ffmpeg spawns ffmpeg after its own checks: a run stopped before then is killed on start.
  command.on("start", () => stopped && command.kill("SIGKILL"));
  command.on("stderr", (line: string) => stderr.note(line));
  command.on("codecData", (data: CodecData) => {
    const problem = checkInput(data, options);
    if (problem && !stopped) {
      refusal = new VideoError(problem);
      stop();
    }
  });
  const finished = new Promise<void>((resolve, reject) => {
    command.on("end", () => resolve());
    command.on("error", reject);
  });
  // Not awaited when the consumer leaves early; its rejection is then expected.
  finished.catch(() => {});
  signal?.addEventListener("abort", stop);
  command.run();

  const reader = new PpmReader();
  let index = 0;
  try {
    try {
      for await (const chunk of output) {
        for (const f of reader.push(chunk as Buffer)) {
          yield { index, timeMs: sampleTimeMs(options, index), ...f };
          index++;
        }
      }
    } catch (err) {
      // A stop destroys the output: its reason is the error.
      signal?.throwIfAborted();
      throw refusal ?? err;
    }
    signal?.throwIfAborted();
    if (refusal) throw refusal;
    // Frames ffmpeg wrote before it failed are given before its error.
    await finished.catch((err: Error) => {
      throw new VideoError(stderr.failure(err));
    });
    if (stderr.truncated) throw new VideoError(TRUNCATED);
  } finally {
    signal?.removeEventListener("abort", stop);
    stop();
  }
}

/**
 * Settles how this process decodes, in one call: the ffmpeg binary and the decoder, checked now
 * (a missing ffmpeg stops the start, naming it); the host path forks its ffmpeg host here.
 */
export function prepareDecoding(ffmpegPath: string | undefined, kind: DecoderKind): void {
  useFfmpeg(ffmpegPath);
  useDecoder(kind);
  checkFfmpeg();
  if (kind === "host") startFfmpegHost();
}

/**
 * Once the engine is loaded, readies decoding for videos with these options: the host path keeps
 * an ffmpeg started ahead, waiting for the next video; the simple path has fluent-ffmpeg ask ffmpeg
 * for its formats and encoders (two ffmpeg runs it makes before its first command in a process),
 * so that the first video does not wait for them.
 */
export function startDecoderAhead(options: FrameOptions): void {
  if (decoder === "host") startSpare(options);
  else {
    void fluentFfmpeg().then((ffmpeg) => {
      const probe = ffmpeg().setFfmpegPath(currentFfmpeg());
      probe.availableFormats(() => probe.availableEncoders(() => {}));
    });
  }
}
