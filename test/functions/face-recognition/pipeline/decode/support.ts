// For the decode tests: clips made with ffmpeg in a folder of their own, and a reading abandoned.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Frame,
  type FrameOptions,
  readFrames,
} from "../../../../../functions/face-recognition/pipeline/decode/decoder.js";

/** Frame options for the clips made here: 2 frames a second, at most 640 wide, MP4/MOV only. */
export const base = { fps: 2, maxWidth: 640, maxSeconds: 600, maxPixels: 4096 * 2304, inputFormat: "mov" as const };

/** Every frame of the video. */
export async function readAll(file: string, options: FrameOptions = base): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const f of readFrames(file, options)) frames.push(f);
  return frames;
}

export function clipFolder(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = (name: string) => join(dir, name);
  const ffmpeg = (...args: string[]) => execFileSync("ffmpeg", ["-v", "error", "-y", ...args]);
  return {
    file,
    /** An H.264 MP4 of ffmpeg's test pattern (a lavfi source such as "testsrc=size=WxH:rate=R:duration=S"). */
    testClip: (name: string, source: string) =>
      ffmpeg("-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", file(name)),
    /** A phone held upright: the same pixels, stored as they are, with a rotation in the container's metadata. */
    rotate90: (from: string, to: string) =>
      ffmpeg("-i", file(from), "-c", "copy", "-metadata:s:v:0", "rotate=90", file(to)),
    /** Index (moov) first, as most uploads from the web are: such a file can be streamed into ffmpeg. */
    indexFirst: (from: string, to: string) =>
      ffmpeg("-i", file(from), "-c", "copy", "-movflags", "+faststart", file(to)),
  };
}

/** Reads the video and aborts with `reason` at its first frame: the times of the frames given, and what the reading threw. */
export async function abortAtFirstFrame(file: string, options: FrameOptions, reason: Error) {
  const abandon = new AbortController();
  const times: number[] = [];
  const thrown = await (async () => {
    for await (const f of readFrames(file, options, { signal: abandon.signal })) {
      times.push(f.timeMs);
      abandon.abort(reason);
    }
  })().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { times, thrown };
}
