// One ffmpeg process (started by fluent-ffmpeg in the ffmpeg host: ffmpeg-host.ts) that samples a
// video at a fixed rate, scales it down inside ffmpeg and writes raw RGB frames as PPM to a socket
// this process reads: each frame carries its own width and height, so rotation and rounding never
// have to be guessed, and nothing touches disk. The input is the downloaded file, or the same file
// streamed to ffmpeg's stdin by the host (a decoder started ahead: frames.ts).
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import type { Socket } from "node:net";
import { VideoError } from "./errors.js";
import { FfmpegHostError, runFfmpeg, startFfmpegHost } from "./ffmpeg-remote.js";
import type { Frame, FrameOptions } from "./frames.js";

const requireFromHere = createRequire(import.meta.url);

/** FFMPEG_PATH, else ffmpeg-static where it installed (optional dependency), else ffmpeg on PATH. */
export function resolveFfmpegPath(configured?: string): string {
  if (configured) return configured;
  try {
    const bundled = requireFromHere("ffmpeg-static") as string | null;
    if (bundled && existsSync(bundled)) return bundled;
  } catch {
    // not installed: fine, Debian's ffmpeg is the fallback
  }
  return "ffmpeg";
}

let ffmpegPath = resolveFfmpegPath(process.env.FFMPEG_PATH);

export function useFfmpeg(path: string | undefined): void {
  ffmpegPath = resolveFfmpegPath(path);
}

/** Reads PPM (P6, maxval 255) frames out of a byte stream. */
export class PpmReader {
  /** Bytes of a header not yet complete. */
  private head: Buffer = Buffer.alloc(0);
  /** The frame being filled, once its header is read: each byte is copied once (a 1080p frame
   * comes in a hundred chunks; joining them chunk by chunk copied the frame over and over). */
  private frame: { width: number; height: number; rgb: Buffer; filled: number } | undefined;

  push(chunk: Buffer): { width: number; height: number; rgb: Buffer }[] {
    const frames: { width: number; height: number; rgb: Buffer }[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      if (this.frame) {
        const { rgb } = this.frame;
        const taken = rest.copy(rgb, this.frame.filled, 0, Math.min(rest.length, rgb.length - this.frame.filled));
        this.frame.filled += taken;
        rest = rest.subarray(taken);
        if (this.frame.filled === rgb.length) {
          frames.push({ width: this.frame.width, height: this.frame.height, rgb });
          this.frame = undefined;
        }
        continue;
      }
      const buffer = this.head.length === 0 ? rest : Buffer.concat([this.head, rest]);
      const header = parsePpmHeader(buffer);
      if (!header) {
        this.head = Buffer.from(buffer);
        break;
      }
      this.head = Buffer.alloc(0);
      const rgb = Buffer.allocUnsafe(header.width * header.height * 3);
      this.frame = { width: header.width, height: header.height, rgb, filled: 0 };
      rest = buffer.subarray(header.length);
    }
    return frames;
  }

  get pendingBytes(): number {
    return this.head.length + (this.frame?.filled ?? 0);
  }
}

function parsePpmHeader(buf: Buffer): { width: number; height: number; length: number } | undefined {
  // "P6" WS width WS height WS maxval single-WS; ffmpeg writes "P6\n<w> <h>\n255\n".
  if (buf.length < 2) return undefined;
  if (buf[0] !== 0x50 || buf[1] !== 0x36) throw new Error("ffmpeg produced a frame that is not PPM");
  const fields: number[] = [];
  let i = 2;
  while (fields.length < 3) {
    while (i < buf.length && isSpace(buf[i] as number)) i++;
    const start = i;
    while (i < buf.length && !isSpace(buf[i] as number)) i++;
    if (i >= buf.length) return undefined;
    fields.push(Number(buf.toString("latin1", start, i)));
  }
  const [width, height, maxval] = fields as [number, number, number];
  if (maxval !== 255 || !(width > 0) || !(height > 0)) throw new Error("unexpected PPM header from ffmpeg");
  return { width, height, length: i + 1 };
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** How the consumer reads the frames (the decoder's own settings are FrameOptions). */
export interface ReadingOptions {
  /**
   * Decode the next frame only once the last one is taken (ffmpeg is stopped meanwhile). For a
   * consumer that usually stops early (`first` mode), decoding ahead is mostly work thrown away:
   * 20 % of ffmpeg's CPU there, at no cost in latency (measured); in `all` mode it is the overlap.
   */
  onDemand?: boolean;
  /** Aborted when the frames are no longer wanted (the caller left, a deadline): ffmpeg is killed at once and its reason thrown. */
  signal?: AbortSignal;
}

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

/**
 * Starts ffmpeg on a file. Errors name the cause as ffmpeg reported it. `probe: false` skips
 * ffmpeg's stream probing, which decodes frames only to throw them away (~40 ms): for MP4/MOV,
 * whose index states what decoding needs.
 */
export function startDecoder(file: string, options: FrameOptions, { probe = true } = {}): Decoder {
  return decode(file, options, probe);
}

/** Starts ffmpeg now, unprobed, to decode the video given later to `feed` (MP4/MOV only). */
export function startWaitingDecoder(options: FrameOptions): WaitingDecoder {
  return decode(undefined, options, false);
}

/** ffmpeg's options before and after its input: sample, scale, and write PPM frames. */
function ffmpegOptions(
  file: string | undefined,
  options: FrameOptions,
  probe: boolean,
): { inputOptions: string[]; outputOptions: string[] } {
  const { maxWidth } = options;
  const maxHeight = options.maxHeight ?? 2 * maxWidth;
  const taller = `gt(ih*${maxWidth}\\,iw*${maxHeight})`;
  const filters = [
    // Counts every decoded frame, sampled or not; at the cap ffmpeg stops decoding, as at -t.
    ...(options.maxFrames ? [`trim=end_frame=${options.maxFrames}`] : []),
    // select, not fps: the fps filter looks ahead before it emits its first frame (~0.1 s of
    // decoding), and `first` mode usually answers on that very frame.
    ...(options.fps > 0 ? [`select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${1 / options.fps})'`] : []),
    ...(options.padFactor && options.padFactor > 1
      ? [`pad=ceil(iw*${options.padFactor}/2)*2:ceil(ih*${options.padFactor}/2)*2:(ow-iw)/2:(oh-ih)/2:color=gray`]
      : []),
    // Scale inside ffmpeg so a huge frame never reaches JS memory at full size; even sizes for RGB.
    // Into a maxWidth × maxHeight box: frames taller than the box are bounded by its height.
    `scale=w='if(${taller},-2,min(${maxWidth},iw))':h='if(${taller},min(${maxHeight},ih),-2)':flags=bilinear`,
  ];
  const inputOptions = [
    "-nostdin",
    // Only the downloaded file (or its stream on stdin) may be read: never a URL or another file named inside it.
    "-protocol_whitelist",
    file === undefined ? "pipe" : "file",
    ...(options.inputFormat ? ["-f", options.inputFormat] : []),
    ...(options.startSeconds ? ["-ss", String(options.startSeconds)] : []),
    "-max_pixels",
    String(options.maxPixels),
    ...(options.threads ? ["-threads", String(options.threads)] : []),
    ...(probe ? [] : ["-nofind_stream_info"]),
  ];
  const outputOptions = [
    "-t",
    String(Math.min(options.maxSeconds, options.durationSeconds ?? Number.POSITIVE_INFINITY)),
    "-an",
    "-sn",
    "-dn",
    // One output picture per selected frame, never duplicated to a constant rate.
    "-fps_mode",
    "vfr",
    "-vf",
    filters.join(","),
    "-f",
    "image2pipe",
    "-c:v",
    "ppm",
    "-pix_fmt",
    "rgb24",
  ];
  return { inputOptions, outputOptions };
}

function decode(file: string | undefined, options: FrameOptions, probe: boolean): WaitingDecoder {
  const { inputOptions, outputOptions } = ffmpegOptions(file, options, probe);
  const stderrTail: string[] = [];
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
  // ffmpeg decodes what there is of a cut-off upload and exits 0: its demuxer's "partial file"
  // warning is the only sign, and such an upload is refused rather than half-read.
  let truncated = false;

  const onData = (chunk: Buffer) => {
    try {
      for (const f of reader.push(chunk)) {
        const timeMs = Math.round(
          (options.startSeconds ?? 0) * 1000 + (options.fps > 0 ? (index * 1000) / options.fps : 0),
        );
        queue.push({ index, timeMs, ...f });
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
    { ffmpegPath, file, inputOptions, outputOptions },
    {
      stderr(line) {
        stderrTail.push(line);
        if (stderrTail.length > 40) stderrTail.shift();
        if (/: partial file\s*$/.test(line)) truncated = true;
      },
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
          else if (error) failure = new VideoError(describeFfmpegFailure(error, stderrTail));
          else if (truncated) failure = new VideoError(TRUNCATED);
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

/** Refuses what the container header already shows to be unacceptable. */
export function checkInput(
  data: { duration?: string; video?: string; video_details?: string[] },
  options: Pick<FrameOptions, "maxSeconds" | "maxPixels" | "maxAspect" | "maxFps">,
): string | undefined {
  if (!data.video) return "the file has no video stream";
  const seconds = parseDuration(data.duration);
  if (seconds !== undefined && seconds > options.maxSeconds) {
    return `the video lasts ${seconds.toFixed(1)} s, over the limit of ${options.maxSeconds} s`;
  }
  const size = (data.video_details ?? []).map((d) => /^(\d{2,6})x(\d{2,6})/.exec(d.trim())).find(Boolean);
  if (size) {
    const [width, height] = [Number(size[1]), Number(size[2])];
    if (width * height > options.maxPixels)
      return `the video's frames are ${width}×${height}, over the limit of ${options.maxPixels} pixels`;
    const aspect = Math.max(width, height) / Math.min(width, height);
    if (options.maxAspect !== undefined && aspect > options.maxAspect)
      return `the video's frames are ${width}×${height}, an aspect ratio of ${Number(aspect.toFixed(1))}:1, over the limit of ${options.maxAspect}:1`;
  }
  // The container's average rate, as ffmpeg prints it: "29.97 fps", "240 fps", "1k fps".
  const rate = (data.video_details ?? []).map((d) => /^(\d+(?:\.\d+)?)(k?) fps$/.exec(d.trim())).find(Boolean);
  if (rate && options.maxFps !== undefined) {
    const fps = Number(rate[1]) * (rate[2] ? 1000 : 1);
    if (fps > options.maxFps) return `the video runs at ${fps} frames per second, over the limit of ${options.maxFps}`;
  }
  return undefined;
}

function parseDuration(text: string | undefined): number | undefined {
  const m = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text ?? "");
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : undefined;
}

const TRUNCATED = "the video is truncated or damaged";

/** ffmpeg's own words are long and cryptic: name the cause when it is a known one. */
const KNOWN_FAILURES: [RegExp, string][] = [
  [/does not contain any stream|matches no streams/, "the file has no video stream"],
  [/moov atom not found/, "the MP4 is incomplete or damaged (no index: moov atom not found)"],
  [/partial file|Invalid NAL unit size|Invalid data found/, TRUNCATED],
  [/max_pixels|max pixel count|Picture size \d+x\d+ is invalid/, "the video's frames are too large"],
  [/Protocol .* not on whitelist/, "the video refers to another file or address, which is not allowed"],
  // The mov demuxer's enable_drefs is off: a track whose data reference names another file is
  // never opened, and has no samples to decode.
  [
    /Skipped opening external track/,
    "the video's data is in another file (an external data reference), which is not allowed",
  ],
];

export function describeFfmpegFailure(err: Error, stderrTail: string[]): string {
  const text = stderrTail.join("\n");
  // The decoder refused a frame over -max_pixels (a size the container header did not state).
  const huge = /Picture size (\d+)x(\d+) exceeds specified max pixel count (\d+)/.exec(text);
  if (huge) return `the video's frames are ${huge[1]}×${huge[2]}, over the limit of ${huge[3]} pixels`;
  const known = KNOWN_FAILURES.find(([pattern]) => pattern.test(text));
  if (known) return known[1];
  const lines = stderrTail.map((l) => l.trim()).filter((l) => l && !/^(frame=|size=|video:|\[out)/.test(l));
  const last = lines.slice(-2).join("; ") || err.message;
  return `ffmpeg could not decode the video: ${last.slice(0, 300)}`;
}

/**
 * At start: checks that the ffmpeg to run is there, and forks the ffmpeg host while this process is
 * small. Before its first command in a process, fluent-ffmpeg asks ffmpeg for its formats and
 * encoders (two ffmpeg runs, ~0.27 s): that happens with the first decoder started, the spare
 * started once the engine is loaded (frames.ts), not during the load, which it slowed by ~0.2 s.
 */
export function prepareFfmpeg(): void {
  if (!executableAt(ffmpegPath)) {
    throw new Error(
      `ffmpeg not found: ${JSON.stringify(ffmpegPath)} is not an executable file${ffmpegPath.includes("/") ? "" : " on PATH"} (set FFMPEG_PATH, or install ffmpeg)`,
    );
  }
  startFfmpegHost();
}

/** A path with a slash names the file; a bare name is looked up on PATH, as spawning it would. */
function executableAt(path: string): boolean {
  const candidates = path.includes("/")
    ? [path]
    : (process.env.PATH ?? "").split(delimiter).flatMap((dir) => (dir ? [join(dir, path)] : []));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}
