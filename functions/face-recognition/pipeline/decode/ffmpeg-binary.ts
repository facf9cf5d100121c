// Which ffmpeg runs: FFMPEG_PATH, else ffmpeg-static where it installed (an optional dependency),
// else the ffmpeg on PATH (Debian's).
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";

const requireFromHere = createRequire(import.meta.url);

function resolveFfmpegPath(configured?: string): string {
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

/** The ffmpeg decoders run. */
export function currentFfmpeg(): string {
  return ffmpegPath;
}

export function useFfmpeg(path: string | undefined): void {
  ffmpegPath = resolveFfmpegPath(path);
}

/** Refuses, by name, an ffmpeg that is not there: at start, rather than on every video later. */
export function checkFfmpeg(): void {
  if (!executableAt(ffmpegPath)) {
    throw new Error(
      `ffmpeg not found: ${JSON.stringify(ffmpegPath)} is not an executable file${ffmpegPath.includes("/") ? "" : " on PATH"} (set FFMPEG_PATH, or install ffmpeg)`,
    );
  }
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
