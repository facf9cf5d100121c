// Why a video is refused, in words a caller can act on: from the container's header before any
// frame is decoded (checkInput), or from ffmpeg's own output when it fails (describeFfmpegFailure).
import type { FrameOptions } from "./options.js";

/** What fluent-ffmpeg reads from ffmpeg's banner about the input ('codecData' event). */
export interface CodecData {
  duration?: string;
  video?: string;
  video_details?: string[];
}

/** Refuses what the container header already shows to be unacceptable. */
export function checkInput(
  data: CodecData,
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

export const TRUNCATED = "the video is truncated or damaged";

/**
 * ffmpeg decodes what there is of a cut-off upload and exits 0: its demuxer's "partial file"
 * warning is the only sign, and such an upload is refused rather than half-read.
 */
function warnsOfTruncation(stderrLine: string): boolean {
  return /: partial file\s*$/.test(stderrLine);
}

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

/** ffmpeg's stderr as a run goes: its last lines, to name why it failed, and any warning of truncation. */
export class FfmpegStderr {
  private readonly tail: string[] = [];
  truncated = false;

  note(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    this.truncated ||= warnsOfTruncation(line);
  }

  /** Why ffmpeg failed with `err`, in words a caller can act on. */
  failure(err: Error): string {
    return describeFfmpegFailure(err, this.tail);
  }
}

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
