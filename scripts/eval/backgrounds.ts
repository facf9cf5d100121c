// Backgrounds of the classroom scenes, of several kinds: frames of the course clips and of the other
// shared videos, the group photos enlarged and blurred (out of focus, as a hall behind the people
// is), and the synthetic one. Made with ffmpeg at eval time into the work folder (never committed),
// as raw RGB frames of the scene's size, landscape and portrait.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import type { RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import { seededRandom } from "./scenes.js";

const run = promisify(execFile);

export interface BackdropSource {
  kind: "lecture clip" | "video" | "group photo" | "synthetic";
  /** Relative to the data folder; none for the synthetic one. */
  file?: string;
  /** Seconds into a video. */
  at?: number;
  /** The least blur (σ): an enlarged group photo's faces are hundreds of px wide, and a detector
   * still fires on them through σ 16 once people are pasted over them (seen in a scene's frames). */
  blur?: number;
}

/** The sources: a frame each of three course clips, two other videos, three group photos, synthetic. */
export const BACKDROP_SOURCES: BackdropSource[] = [
  { kind: "lecture clip", file: "cse546/videos/test_0.mp4", at: 0.5 },
  { kind: "video", file: "videos/no_face_big_buck_bunny.mp4", at: 2.5 },
  { kind: "group photo", file: "extra/bbt4.jpg", blur: 32 },
  { kind: "synthetic" },
  { kind: "lecture clip", file: "cse546/videos/test_5.mp4", at: 1 },
  { kind: "video", file: "videos/bbt_comic_store_5frames.mp4" },
  { kind: "group photo", file: "extra/obama_and_biden_2.jpg", blur: 32 },
  { kind: "lecture clip", file: "cse546/videos/test_8.mp4", at: 1 },
  { kind: "group photo", file: "extra/kit_with_rose.jpg", blur: 32 },
];

export interface Backdrop {
  kind: BackdropSource["kind"];
  name: string;
  /** Raw RGB files, 1920×1080 and 1080×1920. */
  landscape: string;
  portrait: string;
}

/** A quiet textured background (a gradient and coarse blotches), the same for a seed. */
export function syntheticBackdrop(width: number, height: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const grid = 64;
  const gw = Math.ceil(width / grid) + 2;
  const gh = Math.ceil(height / grid) + 2;
  const blotches = Float32Array.from({ length: gw * gh }, () => (random() - 0.5) * 40);
  const tint = [random() * 40 - 20, random() * 40 - 20, random() * 40 - 20];
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    const gy = y / grid;
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    for (let x = 0; x < width; x++) {
      const gx = x / grid;
      const x0 = Math.floor(gx);
      const fx = gx - x0;
      const at = (i: number, j: number) => blotches[j * gw + i] as number;
      const blotch =
        (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) +
        (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
      const base = 90 + (60 * y) / height + blotch;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) rgb[o + c] = clamp(base + (tint[c] as number));
    }
  }
  return rgb;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** One frame of `source` scaled to cover width × height, centre-cropped, blurred by `sigma`, as raw RGB. */
async function extract(data: string, source: BackdropSource, width: number, height: number, sigma: number) {
  if (!source.file) return syntheticBackdrop(width, height, 14);
  const filter = `scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height},gblur=sigma=${sigma}`;
  const { stdout } = await run(
    "ffmpeg",
    [
      ...["-v", "error", ...(source.at === undefined ? [] : ["-ss", String(source.at)]), "-i", join(data, source.file)],
      ...["-frames:v", "1", "-vf", filter, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    ],
    { encoding: "buffer", maxBuffer: width * height * 3 + 1024 },
  );
  if (stdout.length !== width * height * 3) throw new Error(`no ${width}x${height} frame from ${source.file}`);
  return stdout;
}

/** Blurs tried in turn (σ in px at 1080p): out of focus first, then until no face is left. */
const BLURS = [16, 32, 64];

/**
 * The backdrops written to `work`. A backdrop must show no face the ground truth does not know of
 * (the course clips are close-ups of people): each is blurred and checked with `detect`, blurred
 * more while a face is found, and left out when one is still found at the strongest blur.
 */
export async function makeBackdrops(
  data: string,
  work: string,
  detect: (image: RgbImage) => Promise<unknown[]>,
  sources = BACKDROP_SOURCES,
): Promise<Backdrop[]> {
  const backdrops: Backdrop[] = [];
  for (const [i, source] of sources.entries()) {
    const name = source.file ? basename(source.file) : "synthetic";
    const files: string[] = [];
    for (const [width, height] of [
      [1920, 1080],
      [1080, 1920],
    ] as const) {
      for (const sigma of BLURS.filter((b) => b >= (source.blur ?? 0))) {
        const rgb = await extract(data, source, width, height, sigma);
        if ((await detect({ width, height, rgb })).length > 0) continue;
        const file = join(work, `backdrop-${i}-${width}x${height}.rgb`);
        await writeFile(file, rgb);
        files.push(file);
        break;
      }
    }
    const [landscape, portrait] = files;
    if (landscape && portrait) backdrops.push({ kind: source.kind, name, landscape, portrait });
    else console.log(`background left out: a face is still found in ${name} at σ ${BLURS.at(-1)}`);
  }
  return backdrops;
}
