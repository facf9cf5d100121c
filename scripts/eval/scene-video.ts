// The eval's scenes (scenes.ts) drawn and encoded: frames composed on a quiet background, piped
// raw to ffmpeg (H.264), stored turned with rotation metadata where the case says so.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { RecognitionSettings } from "../../functions/face-recognition/config.js";
import { resample } from "../../functions/face-recognition/pipeline/engine/images.js";
import type { Box, RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import { loadFaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import { readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import type { Split } from "./dataset.js";
import {
  cropExtent,
  facesAt,
  planScenes,
  SCENE_FPS,
  SCENE_SECONDS,
  type Scene,
  type SceneCase,
  type SceneVideo,
  type SourcePhoto,
  seededRandom,
} from "./scenes.js";

const run = promisify(execFile);

/** A quiet textured background (a gradient and coarse blotches), the same for a seed. */
function background(width: number, height: number, seed: number): Buffer {
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

/** The crop at this face width, scaled by area averaging (a face shrunk 6× keeps its features). */
function scaledCrop(source: SourcePhoto, faceWidth: number): RgbImage {
  const { scale, crop, width, height } = cropExtent(source, faceWidth);
  return resample(source.image, crop, width, height, 1 / scale, 1 / scale);
}

/** The displayed frame at `seconds`. */
export function composeFrame(
  scene: Scene,
  seconds: number,
  backdrop = background(scene.width, scene.height, scene.seed),
) {
  const frame = Buffer.from(backdrop);
  for (const { face, box } of facesAt(scene, seconds)) {
    const crop = scaledCrop(face.source, face.width);
    const extent = cropExtent(face.source, face.width);
    const left = box.x - extent.faceX;
    const top = box.y - extent.faceY;
    for (let y = 0; y < crop.height; y++) {
      const fy = top + y;
      if (fy < 0 || fy >= scene.height) continue;
      for (let x = 0; x < crop.width; x++) {
        const fx = left + x;
        if (fx < 0 || fx >= scene.width) continue;
        crop.rgb.copy(frame, (fy * scene.width + fx) * 3, (y * crop.width + x) * 3, (y * crop.width + x) * 3 + 3);
      }
    }
  }
  return frame;
}

/** How the displayed frame is stored turned (ffmpeg's filter), and the rotation a player applies to it. */
function storage(sceneCase: SceneCase): { filter: string[]; rotate?: number } {
  // ffmpeg's rotate=90 tag makes players turn the picture counter-clockwise.
  if (sceneCase === "portrait rotate-90") return { filter: ["-vf", "transpose=clock"], rotate: 90 };
  if (sceneCase === "landscape rotate-180") return { filter: ["-vf", "hflip,vflip"], rotate: 180 };
  return { filter: [] };
}

/** Encodes the scene as an H.264 MP4 in `dir` (raw frames piped to ffmpeg). */
export async function writeScene(scene: Scene, dir: string): Promise<SceneVideo> {
  const file = join(dir, `${scene.id}.mp4`);
  const { filter, rotate } = storage(scene.case);
  // ffmpeg 5.1 drops rotation metadata when encoding: it is set on a stream copy afterwards.
  const encoded = rotate === undefined ? file : join(dir, `${scene.id}.stored.mp4`);
  const ffmpeg = spawn(
    "ffmpeg",
    [
      ...["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"],
      ...["-s", `${scene.width}x${scene.height}`, "-r", String(SCENE_FPS), "-i", "pipe:0"],
      ...filter,
      ...["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-threads", "1"],
      ...["-movflags", "+faststart", encoded],
    ],
    { stdio: ["pipe", "ignore", "pipe"] },
  );
  let errors = "";
  ffmpeg.stderr.on("data", (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const exited = once(ffmpeg, "close");
  const backdrop = background(scene.width, scene.height, scene.seed);
  for (let i = 0; i < SCENE_FPS * SCENE_SECONDS; i++) {
    if (!ffmpeg.stdin.write(composeFrame(scene, i / SCENE_FPS, backdrop))) await once(ffmpeg.stdin, "drain");
  }
  ffmpeg.stdin.end();
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`ffmpeg failed to encode ${scene.id}: ${errors.trim()}`);
  if (rotate !== undefined) {
    await run("ffmpeg", [
      ...["-v", "error", "-y", "-i", encoded, "-c", "copy"],
      ...["-metadata:s:v:0", `rotate=${rotate}`, "-movflags", "+faststart", file],
    ]);
    await rm(encoded);
  }
  const names = scene.faces.flatMap((f) => (f.source.name ? [f.source.name] : []));
  return { ...scene, file, expected: [...new Set(names)] };
}

/** A photo as RGB, at most 800 px wide: faces are pasted at most 96 px wide. */
export async function readPhoto(file: string): Promise<RgbImage> {
  for await (const frame of readFrames(file, { fps: 0, maxWidth: 800, maxSeconds: 1, maxPixels: 64_000_000 }))
    return frame;
  throw new Error(`no image in ${file}`);
}

/** `image` centred on a grey canvas `factor` times its size (detectors miss faces that fill the picture). */
export function padded(image: RgbImage, factor: number): { image: RgbImage; offsetX: number; offsetY: number } {
  const width = image.width * factor;
  const height = image.height * factor;
  const offsetX = Math.floor(((factor - 1) * image.width) / 2);
  const offsetY = Math.floor(((factor - 1) * image.height) / 2);
  const rgb = Buffer.alloc(width * height * 3, 128);
  for (let y = 0; y < image.height; y++)
    image.rgb.copy(rgb, ((y + offsetY) * width + offsetX) * 3, y * image.width * 3, (y + 1) * image.width * 3);
  return { image: { width, height, rgb }, offsetX, offsetY };
}

/** A labeled photo with its face located by `detect` (the largest face: the photo's subject). */
export async function locatePhoto(
  name: string | null,
  file: string,
  detect: (image: RgbImage) => Promise<{ box: Box }[]>,
): Promise<SourcePhoto> {
  const image = await readPhoto(file);
  for (const factor of [2, 3]) {
    const canvas = padded(image, factor);
    const faces = await detect(canvas.image);
    const largest = faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0];
    if (!largest) continue;
    const { box } = largest;
    return {
      name,
      file,
      image,
      face: { x: box.x - canvas.offsetX, y: box.y - canvas.offsetY, width: box.width, height: box.height },
    };
  }
  throw new Error(`no face found in ${file}`);
}

/**
 * The eval's ten scenes, written to `work`: the held-out photos and the strangers, each face located
 * by SSD (the most thorough detector here), which sets each face's width.
 */
export async function composeScenes(
  data: string,
  split: Split,
  work: string,
  settings: Pick<RecognitionSettings, "backend" | "speedups">,
): Promise<SceneVideo[]> {
  const ssd = await loadFaceEngine({
    detector: "ssd",
    backend: settings.backend,
    minDetectionScore: 0.5,
    tinyInputSize: 416,
    tinySecondInputSize: 0,
    detectWidth: 0,
    speedups: settings.speedups,
  });
  const detect = (image: RgbImage) => ssd.detect(image);
  const known = [];
  for (const photo of split.heldOut) known.push(await locatePhoto(photo.name, photo.file, detect));
  const unknown = [];
  const strangers = (await readdir(join(data, "extra"))).filter((f) => f.startsWith("unknown_")).sort();
  for (const file of strangers) unknown.push(await locatePhoto(null, join(data, "extra", file), detect));
  const videos: SceneVideo[] = [];
  for (const plan of planScenes(known, unknown, { scenes: 10, knownPerScene: 6, unknownPerScene: 2, seed: 14 }))
    videos.push(await writeScene(plan, work));
  return videos;
}
