// Classroom-like scenes for the eval: several known and unknown people per 1080p frame, faces 24–96 px
// wide, moving a little, landscape and portrait, some stored rotated with rotation metadata. Composed
// here from the labeled photos (the held-out ones for known people) and encoded by ffmpeg from raw
// frames; deterministic for a seed. Ground truth (who, where, how wide) is known for every frame.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import type { Box, RgbImage } from "../../functions/face-recognition/pipeline/faces.js";
import { readFrames } from "../../functions/face-recognition/pipeline/frames.js";

const run = promisify(execFile);

export const FACE_WIDTHS = [24, 32, 48, 64, 96] as const;

/** How the scene is shot and stored: `rotate-90`/`rotate-180` store pixels turned, with metadata to undo it. */
export const SCENE_CASES = ["landscape", "portrait", "portrait rotate-90", "landscape rotate-180"] as const;
export type SceneCase = (typeof SCENE_CASES)[number];

/** A labeled photo with its face located: `name` is null for a stranger. */
export interface SourcePhoto {
  name: string | null;
  file: string;
  image: RgbImage;
  face: Box;
}

export interface PlacedFace {
  source: SourcePhoto;
  /** Face box width in the displayed frame, px. */
  width: number;
  /** Face box's top-left corner at time 0, in displayed coordinates. */
  x: number;
  y: number;
  /** Motion in px per second. */
  vx: number;
  vy: number;
}

export interface Scene {
  id: string;
  case: SceneCase;
  /** Displayed size (after rotation metadata is applied). */
  width: number;
  height: number;
  faces: PlacedFace[];
  seed: number;
}

export interface SceneVideo extends Scene {
  file: string;
  /** Known names in the scene, each once. */
  expected: string[];
}

export const SCENE_FPS = 4;
export const SCENE_SECONDS = 1.5;

/** Mulberry32: a small seeded generator, so that the same seed gives the same scenes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Scene plans: each scene holds `knownPerScene` known people and `unknownPerScene` strangers. Known
 * people rotate through the list so that, over 2 × |FACE_WIDTHS| scenes of 6 people out of 12, each
 * person appears once at every width.
 */
export function planScenes(
  known: SourcePhoto[],
  unknown: SourcePhoto[],
  options: { scenes: number; knownPerScene: number; unknownPerScene: number; seed: number },
): Scene[] {
  const random = seededRandom(options.seed);
  const scenes: Scene[] = [];
  for (let k = 0; k < options.scenes; k++) {
    // Cases change every two scenes: consecutive scenes show the two halves of the people, so that
    // each case shows both halves (a case's figures are not one half's).
    const sceneCase = SCENE_CASES[Math.floor(k / 2) % SCENE_CASES.length] as SceneCase;
    const portrait = sceneCase.startsWith("portrait");
    const [width, height] = portrait ? [1080, 1920] : [1920, 1080];
    const people: { source: SourcePhoto; width: number }[] = [];
    for (let j = 0; j < options.knownPerScene; j++)
      people.push({
        source: known[(k * options.knownPerScene + j) % known.length] as SourcePhoto,
        width: FACE_WIDTHS[(k + j) % FACE_WIDTHS.length] as number,
      });
    for (let j = 0; j < options.unknownPerScene; j++)
      people.push({
        source: unknown[(k * options.unknownPerScene + j) % unknown.length] as SourcePhoto,
        width: FACE_WIDTHS[(k + j + 2) % FACE_WIDTHS.length] as number,
      });
    // One person per cell of a grid, placed at random inside it: nobody overlaps anybody.
    const columns = portrait ? 3 : 4;
    const rows = Math.ceil(people.length / columns);
    const cellW = width / columns;
    const cellH = height / rows;
    const cells = shuffle(
      Array.from({ length: columns * rows }, (_, i) => i),
      random,
    );
    const faces = people.map(({ source, width: faceWidth }, i): PlacedFace => {
      const cell = cells[i] as number;
      const extent = cropExtent(source, faceWidth);
      const slackX = Math.max(0, cellW - extent.width - 40);
      const slackY = Math.max(0, cellH - extent.height - 40);
      const left = (cell % columns) * cellW + 20 + random() * slackX;
      const top = Math.floor(cell / columns) * cellH + 20 + random() * slackY;
      return {
        source,
        width: faceWidth,
        x: Math.round(left + extent.faceX),
        y: Math.round(top + extent.faceY),
        vx: Math.round((random() - 0.5) * 24),
        vy: Math.round((random() - 0.5) * 12),
      };
    });
    scenes.push({
      id: `scene${String(k).padStart(2, "0")}`,
      case: sceneCase,
      width,
      height,
      faces,
      seed: options.seed + k,
    });
  }
  return scenes;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** The part of a photo pasted: the face with a margin of head and shoulders, within the photo. */
function cropRect(source: SourcePhoto): Box {
  const { face, image } = source;
  const side = 1.8 * Math.max(face.width, face.height);
  const cx = face.x + face.width / 2;
  const cy = face.y + face.height / 2;
  const x = Math.max(0, Math.round(cx - side / 2));
  const y = Math.max(0, Math.round(cy - side / 2));
  return {
    x,
    y,
    width: Math.min(image.width, Math.round(cx + side / 2)) - x,
    height: Math.min(image.height, Math.round(cy + side / 2)) - y,
  };
}

/** The pasted crop's size at this face width, and where the face sits in it. */
function cropExtent(source: SourcePhoto, faceWidth: number) {
  const crop = cropRect(source);
  const scale = faceWidth / source.face.width;
  return {
    scale,
    crop,
    width: Math.round(crop.width * scale),
    height: Math.round(crop.height * scale),
    faceX: Math.round((source.face.x - crop.x) * scale),
    faceY: Math.round((source.face.y - crop.y) * scale),
  };
}

/** Where each face of the scene is at `seconds`, in displayed coordinates. */
export function facesAt(scene: Scene, seconds: number): { face: PlacedFace; box: Box }[] {
  return scene.faces.map((face) => ({
    face,
    box: {
      x: Math.round(face.x + face.vx * seconds),
      y: Math.round(face.y + face.vy * seconds),
      width: face.width,
      height: Math.round((face.source.face.height * face.width) / face.source.face.width),
    },
  }));
}

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

/** The crop scaled by area averaging (a face shrunk 6× keeps its features rather than aliasing). */
function scaledCrop(source: SourcePhoto, faceWidth: number): RgbImage {
  const { scale, crop, width, height } = cropExtent(source, faceWidth);
  const src = source.image;
  const rgb = Buffer.alloc(width * height * 3);
  for (let ty = 0; ty < height; ty++) {
    const sy0 = crop.y + Math.floor(ty / scale);
    const sy1 = Math.max(sy0 + 1, Math.min(crop.y + crop.height, crop.y + Math.floor((ty + 1) / scale)));
    for (let tx = 0; tx < width; tx++) {
      const sx0 = crop.x + Math.floor(tx / scale);
      const sx1 = Math.max(sx0 + 1, Math.min(crop.x + crop.width, crop.x + Math.floor((tx + 1) / scale)));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = sy0; sy < sy1; sy++)
        for (let sx = sx0; sx < sx1; sx++) {
          const o = (Math.min(sy, src.height - 1) * src.width + Math.min(sx, src.width - 1)) * 3;
          r += src.rgb[o] as number;
          g += src.rgb[o + 1] as number;
          b += src.rgb[o + 2] as number;
        }
      const n = (sy1 - sy0) * (sx1 - sx0);
      const o = (ty * width + tx) * 3;
      rgb[o] = Math.round(r / n);
      rgb[o + 1] = Math.round(g / n);
      rgb[o + 2] = Math.round(b / n);
    }
  }
  return { width, height, rgb };
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

/** What the pipeline saw in one scene: its sampled frames' detections and the names it decided. */
export interface SceneObservation {
  scene: SceneVideo;
  frames: { timeMs: number; width: number; faces: { box: Box }[] }[];
  found: string[];
  ms: number;
}

export interface SceneRow {
  label: string;
  /** Face-frames whose face was detected, of those shown. */
  detected: number;
  shown: number;
  /** Known people named, of those shown (per scene). */
  named: number;
  known: number;
  /** Names given that were not in the scene. */
  wrongNames: number;
  /** Detections matching no face of the scene. */
  falseDetections: number;
}

/** A detection is the face's when its centre lies in the face's box and its width is within 2× of it. */
export function detects(detection: Box, face: Box): boolean {
  const cx = detection.x + detection.width / 2;
  const cy = detection.y + detection.height / 2;
  const ratio = detection.width / face.width;
  return (
    cx >= face.x && cx <= face.x + face.width && cy >= face.y && cy <= face.y + face.height && ratio > 0.5 && ratio < 2
  );
}

/** Detection and identification by face width and by case (scenes rows carry no width: wrong names are per scene). */
export function sceneRows(observations: SceneObservation[]): {
  byWidth: SceneRow[];
  byCase: SceneRow[];
  all: SceneRow;
} {
  const row = (label: string): SceneRow => ({
    label,
    detected: 0,
    shown: 0,
    named: 0,
    known: 0,
    wrongNames: 0,
    falseDetections: 0,
  });
  const byWidth = new Map(FACE_WIDTHS.map((w) => [w as number, row(`${w} px`)]));
  const byCase = new Map(SCENE_CASES.map((c) => [c as string, row(c)]));
  const all = row("all");
  for (const { scene, frames, found } of observations) {
    const rows = (width: number) => [byWidth.get(width), byCase.get(scene.case), all].filter((r) => r !== undefined);
    for (const frame of frames) {
      const scale = frame.width / scene.width;
      const shown = facesAt(scene, frame.timeMs / 1000).map(({ face, box }) => ({
        face,
        box: { x: box.x * scale, y: box.y * scale, width: box.width * scale, height: box.height * scale },
      }));
      for (const { face, box } of shown) {
        const hit = frame.faces.some((d) => detects(d.box, box));
        for (const r of rows(face.width)) {
          r.shown++;
          if (hit) r.detected++;
        }
      }
      const stray = frame.faces.filter((d) => !shown.some((s) => detects(d.box, s.box))).length;
      for (const r of [byCase.get(scene.case), all]) if (r) r.falseDetections += stray;
    }
    for (const face of scene.faces) {
      if (!face.source.name) continue;
      for (const r of rows(face.width)) {
        r.known++;
        if (found.includes(face.source.name)) r.named++;
      }
    }
    const wrong = found.filter((name) => !scene.expected.includes(name)).length;
    for (const r of [byCase.get(scene.case), all]) if (r) r.wrongNames += wrong;
  }
  return { byWidth: [...byWidth.values()], byCase: [...byCase.values()], all };
}
