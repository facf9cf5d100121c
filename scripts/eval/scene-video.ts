// The eval's scenes (scenes.ts) drawn and encoded: frames composed on their background, in their
// condition (conditions.ts), piped raw to ffmpeg (H.264 at the condition's CRF), stored turned with
// rotation metadata where the case says so.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { RecognitionSettings } from "../../functions/face-recognition/config.js";
import { resample } from "../../functions/face-recognition/pipeline/engine/images.js";
import type { Box, RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import { loadFaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import { readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { syntheticBackdrop } from "./backgrounds.js";
import { applyLight, CONDITION_SPECS, cameraOffset, shiftInto, turnCrop } from "./conditions.js";
import type { Split } from "./dataset.js";
import {
  cropExtent,
  facesAt,
  planScenes,
  SCENE_FPS,
  SCENE_SECONDS,
  type PlacedFace,
  type Scene,
  type SceneCase,
  type SceneVideo,
  type SourcePhoto,
  seededRandom,
} from "./scenes.js";

const run = promisify(execFile);

/** The crop at this face width, scaled by area averaging (a face shrunk 6× keeps its features), turned if so. */
function scaledCrop(face: PlacedFace): RgbImage {
  const { scale, crop, width, height } = cropExtent(face.source, face.width);
  const image = resample(face.source.image, crop, width, height, 1 / scale, 1 / scale);
  return face.squeeze === undefined ? image : turnCrop(image, face.squeeze, face.shear ?? 0);
}

/** The scene's background: its backdrop file, or the synthetic one of its seed. */
export function sceneBackdrop(scene: Scene): Buffer {
  return scene.backdrop ? readFileSync(scene.backdrop) : syntheticBackdrop(scene.width, scene.height, scene.seed);
}

/** The displayed frame at `seconds`: background moved by the camera, faces, bars over hidden faces, light and noise. */
export function composeFrame(scene: Scene, seconds: number, backdrop = sceneBackdrop(scene)) {
  const frame = Buffer.alloc(scene.width * scene.height * 3);
  const { dx, dy } = cameraOffset(scene.camera, seconds);
  shiftInto(frame, backdrop, scene.width, scene.height, dx, dy);
  const paint = (
    left: number,
    top: number,
    w: number,
    h: number,
    pixel: (x: number, y: number, c: number) => number,
  ) => {
    for (let y = Math.max(0, top); y < Math.min(scene.height, top + h); y++)
      for (let x = Math.max(0, left); x < Math.min(scene.width, left + w); x++) {
        const o = (y * scene.width + x) * 3;
        for (let c = 0; c < 3; c++) frame[o + c] = pixel(x - left, y - top, c);
      }
  };
  for (const { face, box } of facesAt(scene, seconds)) {
    const crop = scaledCrop(face);
    const extent = cropExtent(face.source, face.width);
    const left = box.x - Math.round(extent.faceX * (face.squeeze ?? 1));
    // Edges blended into the background over 8% of the crop: a head, not a photo pinned on a wall
    // (a detector may take a pasted photo's hard frame for a face's).
    const feather = Math.max(2, Math.round(0.08 * Math.min(crop.width, crop.height)));
    const top = box.y - extent.faceY;
    paint(left, top, crop.width, crop.height, (x, y, c) => {
      const edge = Math.min(x, y, crop.width - 1 - x, crop.height - 1 - y) + 0.5;
      const alpha = Math.min(1, edge / feather);
      const under = frame[((top + y) * scene.width + left + x) * 3 + c] as number;
      return Math.round(alpha * (crop.rgb[(y * crop.width + x) * 3 + c] as number) + (1 - alpha) * under);
    });
    if (face.hidden) {
      // A dark bar (a raised laptop lid, a hand) from the chin up, wider than the face.
      const top = box.y + Math.round(box.height * (1 - face.hidden));
      const shade = [52, 48, 58];
      paint(
        box.x - Math.round(box.width * 0.2),
        top,
        Math.round(box.width * 1.4),
        Math.round(box.height * face.hidden * 1.3),
        (_x, _y, c) => shade[c] as number,
      );
    }
  }
  const spec = CONDITION_SPECS[scene.condition ?? "lit hall"];
  applyLight(frame, spec, seededRandom(scene.seed * 7919 + Math.round(seconds * 1000)));
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
  const fps = scene.fps ?? SCENE_FPS;
  // ffmpeg 5.1 drops rotation metadata when encoding: it is set on a stream copy afterwards.
  const encoded = rotate === undefined ? file : join(dir, `${scene.id}.stored.mp4`);
  const ffmpeg = spawn(
    "ffmpeg",
    [
      ...["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"],
      ...["-s", `${scene.width}x${scene.height}`, "-r", String(fps), "-i", "pipe:0"],
      ...filter,
      ...[
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        String(scene.crf ?? 18),
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
      ],
      ...["-movflags", "+faststart", encoded],
    ],
    { stdio: ["pipe", "ignore", "pipe"] },
  );
  let errors = "";
  ffmpeg.stderr.on("data", (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const exited = once(ffmpeg, "close");
  const backdrop = sceneBackdrop(scene);
  for (let i = 0; i < Math.round(fps * (scene.seconds ?? SCENE_SECONDS)); i++) {
    if (!ffmpeg.stdin.write(composeFrame(scene, i / fps, backdrop))) await once(ffmpeg.stdin, "drain");
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

/** SSD (the most thorough detector here) to locate the faces of the photos pasted into scenes. */
export async function photoDetector(
  settings: Pick<RecognitionSettings, "backend" | "speedups">,
  minDetectionScore = 0.5,
) {
  const ssd = await loadFaceEngine({
    detector: "ssd",
    backend: settings.backend,
    minDetectionScore,
    tinyInputSize: 416,
    tinySecondInputSize: 0,
    detectWidth: 0,
    speedups: settings.speedups,
  });
  return (image: RgbImage) => ssd.detect(image);
}

/**
 * The older scene set, written to `work`: the held-out photos of `split` and the strangers in 10
 * scenes of 6 known people and 2 strangers, through the conditions in turn (scripts that study the
 * detector use it; the eval's classroom scenes are composeClassroom's).
 */
export async function composeScenes(
  data: string,
  split: Split,
  work: string,
  settings: Pick<RecognitionSettings, "backend" | "speedups">,
): Promise<SceneVideo[]> {
  const detect = await photoDetector(settings);
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
