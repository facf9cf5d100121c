// Clips the decode tests make with ffmpeg, in a folder of their own.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
