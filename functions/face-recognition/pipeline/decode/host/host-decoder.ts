// The host path's decoder: one ffmpeg, started through the ffmpeg host (ffmpeg-host.ts says why),
// writes the frames to a Unix socket this process reads (ffmpeg-remote.ts). The input is the
// downloaded file, or the same file streamed to ffmpeg's stdin by the host (a decoder started
// ahead: spare.ts). In `first` mode (onDemand) ffmpeg is stopped while a frame is analysed.
import type { Socket } from "node:net";
import { VideoError } from "../../errors.js";
import { inputOptions, outputOptions } from "../ffmpeg-args.js";
import { currentFfmpeg } from "../ffmpeg-binary.js";
import { type Frame, type FrameOptions, type ReadingOptions, sampleTimeMs } from "../options.js";
import { PpmReader } from "../ppm.js";
import { checkInput, FfmpegStderr, TRUNCATED } from "../refusals.js";
import { FfmpegHostError, runFfmpeg } from "./ffmpeg-remote.js";

export interface Decoder {
  /** The sampled frames in order. Leaving the loop early kills ffmpeg at once. */
  frames(reading?: ReadingOptions): AsyncGenerator<Frame>;
  /** Whether the idle decoder keeps Node running (a decoder started ahead must not). */
  keepProcessAlive(keep: boolean): void;
  kill(): void;
}

/** A decoder started before its video is known: ffmpeg waits on its stdin. */
export interface WaitingDecoder extends Decoder {
  /** The video to decode, streamed to ffmpeg's stdin. */
  feed(file: string): void;
}

/** Starts ffmpeg on a file. Errors name the cause as ffmpeg reported it. `probe: false`: for MP4/MOV (ffmpeg-args.ts). */
export function startDecoder(file: string, options: FrameOptions, { probe = true } = {}): Decoder {
  return decode(file, options, probe);
}

/** Starts ffmpeg now, unprobed, to decode the video given later to `feed` (MP4/MOV only). */
export function startWaitingDecoder(options: FrameOptions): WaitingDecoder {
  return decode(undefined, options, false);
}

function decode(file: string | undefined, options: FrameOptions, probe: boolean): WaitingDecoder {
  const stderr = new FfmpegStderr();
  let failure: Error | undefined;
  /** No more frames wanted: the consumer left, or a check failed. */
  let stopped = false;
  /** ffmpeg is gone, and any connection it made has been accepted. */
  let exited = false;
  let output: Socket | undefined;
  let outputClosed = false;
  let keepAlive = true;
  let wake: (() => void) | undefined;
  const queue: Frame[] = [];
  const reader = new PpmReader();
  let index = 0;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const kill = () => {
    if (stopped) return;
    stopped = true;
    run.kill();
    output?.destroy();
    poke();
  };

  const onData = (chunk: Buffer) => {
    try {
      for (const f of reader.push(chunk)) {
        queue.push({ index, timeMs: sampleTimeMs(options, index), ...f });
        index++;
      }
    } catch (err) {
      failure = err as Error;
      kill();
    }
    // Back-pressure: the model is slower than ffmpeg; do not buffer a whole video of frames.
    if (queue.length >= 4) output?.pause();
    poke();
  };

  const run = runFfmpeg(
    {
      ffmpegPath: currentFfmpeg(),
      file,
      inputOptions: inputOptions(options, { probe, input: file === undefined ? "pipe" : "file" }),
      outputOptions: outputOptions(options),
    },
    {
      stderr: (line) => stderr.note(line),
      codecData(data) {
        const problem = checkInput(data, options);
        if (problem && !stopped) {
          failure = new VideoError(problem);
          kill();
        }
      },
      output(socket) {
        if (stopped) {
          socket.destroy();
          return;
        }
        output = socket;
        if (!keepAlive) socket.unref();
        socket.on("data", onData);
        // A reset connection ends in "close"; why ffmpeg stopped comes from the host.
        socket.on("error", () => {});
        socket.on("close", () => {
          outputClosed = true;
          poke();
        });
      },
      exit(error) {
        if (!stopped) {
          if (error instanceof FfmpegHostError) failure = error;
          else if (error) failure = new VideoError(stderr.failure(error));
          else if (stderr.truncated) failure = new VideoError(TRUNCATED);
        }
        // A connection ffmpeg made before it exited is accepted in this turn of the event loop.
        setImmediate(() => {
          exited = true;
          poke();
        });
      },
    },
  );
  /** Signals the running ffmpeg; false when there is none (not started yet, or done). */
  const signal = (name: "SIGSTOP" | "SIGCONT") => !stopped && !exited && run.signal(name);

  async function* frames({ onDemand = false, signal: abort }: ReadingOptions = {}): AsyncGenerator<Frame> {
    abort?.addEventListener("abort", kill);
    try {
      for (;;) {
        abort?.throwIfAborted();
        const next = queue.shift();
        if (next) {
          if (queue.length < 2) output?.resume();
          const hold = onDemand && queue.length === 0 && signal("SIGSTOP");
          yield next;
          if (hold) signal("SIGCONT");
          continue;
        }
        // Frames ffmpeg wrote before it failed are given before its error.
        if (stopped || (exited && (!output || outputClosed))) {
          if (failure) throw failure;
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      abort?.removeEventListener("abort", kill);
      kill();
    }
  }

  return {
    frames,
    keepProcessAlive(keep) {
      keepAlive = keep;
      run.keepProcessAlive(keep);
      keep ? output?.ref() : output?.unref();
    },
    kill,
    feed: (video) => run.feed(video),
  };
}
