// Enrollment: known faces into a gallery, from a folder of photos (one sub-folder per person) or
// from a segment of a video. A photo with no face or several faces is reported and skipped, never
// enrolled silently.
import { readdir } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import { addPerson, emptyGallery } from "./gallery/enrollment.js";
import type { Gallery } from "./gallery/format.js";
import { iou, scaleBox } from "./pipeline/engine/boxes.js";
import { padImage, shrink } from "./pipeline/engine/images.js";
import type { DetectedFace, FaceEngine, RgbImage } from "./pipeline/faces.js";
import { readFrames } from "./pipeline/decode/decoder.js";

export const ENROLLED_MODEL = "face-api-facerecognitionnet" as const;
const PHOTO_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".bmp", ".webp"]);

interface SkippedPhoto {
  file: string;
  reason: string;
}

export interface EnrollReport {
  gallery: Gallery;
  enrolled: { name: string; photos: number }[];
  skipped: SkippedPhoto[];
}

export type Progress = (done: number, total: number, file: string) => void;

/**
 * The faces in a photo. Detectors miss faces in tight crops (the face fills the picture), so a
 * photo without a face is tried again centred on a larger grey canvas.
 */
async function facesInPhoto(
  engine: FaceEngine,
  file: string,
  maxWidth = 640,
): Promise<{ faces: DetectedFace[]; frame: RgbImage } | undefined> {
  for (const padFactor of [1, 2, 3]) {
    for await (const frame of readFrames(file, { fps: 0, maxWidth, maxSeconds: 1, maxPixels: 64_000_000, padFactor })) {
      const faces = await engine.detect(frame, { retry: false });
      if (faces.length > 0) return { faces, frame };
      break;
    }
  }
  return undefined;
}

/**
 * Face widths at which an enrolled face is described again as the small-face search sees a face
 * that small: a small face's descriptor is blurred, and lies nearer blurred copies of the same
 * person than their sharp photos. Chosen with npm run eval (24 px copies lost more than they won).
 */
export const SMALL_COPY_WIDTHS = [32, 48] as const;

/** Descriptors of `face` shrunk to each of SMALL_COPY_WIDTHS, found by the engine's small-face search. */
async function smallCopies(engine: FaceEngine, frame: RgbImage, face: DetectedFace): Promise<Float32Array[]> {
  if (!engine.smallFaces) return [];
  const copies: Float32Array[] = [];
  for (const width of SMALL_COPY_WIDTHS) {
    const scale = width / face.box.width;
    if (scale >= 1) continue;
    // Room around the shrunk photo, as in a frame, for the search's crops.
    const margin = 4 * width;
    const image = padImage(shrink(frame, Math.max(1, Math.round(frame.width * scale))), margin);
    const box = scaleBox(face.box, scale, margin, margin);
    const copy = (await engine.detect(image, { near: [box], retry: false })).find((f) => iou(f.box, box) > 0.3);
    if (copy) copies.push(copy.descriptor);
  }
  return copies;
}

export interface Photo {
  name: string;
  file: string;
}

/** The photos of a folder with one sub-folder per person, sorted. */
async function listPeoplePhotos(dir: string): Promise<Photo[]> {
  const people = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const photos: Photo[] = [];
  for (const name of people) {
    const files = (await readdir(join(dir, name))).filter((f) => PHOTO_EXTENSIONS.has(extname(f).toLowerCase())).sort();
    for (const f of files) photos.push({ name, file: join(dir, name, f) });
  }
  return photos;
}

export async function enrollFolder(engine: FaceEngine, dir: string, progress?: Progress): Promise<EnrollReport> {
  const photos = await listPeoplePhotos(dir);
  return enrollPhotos(engine, photos, progress, (file) => relative(dir, file));
}

export async function enrollPhotos(
  engine: FaceEngine,
  photos: Photo[],
  progress?: Progress,
  label: (file: string) => string = (file) => file,
): Promise<EnrollReport> {
  let gallery = emptyGallery(ENROLLED_MODEL, `enrolled from ${photos.length} photos`);
  const skipped: SkippedPhoto[] = [];
  const counts = new Map<string, number>();
  for (const [i, photo] of photos.entries()) {
    const file = label(photo.file);
    progress?.(i, photos.length, file);
    let found: Awaited<ReturnType<typeof facesInPhoto>>;
    try {
      found = await facesInPhoto(engine, photo.file);
    } catch (err) {
      skipped.push({ file, reason: `unreadable: ${(err as Error).message}` });
      continue;
    }
    if (found?.faces.length !== 1) {
      skipped.push({ file, reason: found ? `${found.faces.length} faces found` : "no face found" });
      continue;
    }
    const face = found.faces[0] as DetectedFace;
    gallery = addPerson(gallery, photo.name, [face.descriptor], [file], await smallCopies(engine, found.frame, face));
    counts.set(photo.name, (counts.get(photo.name) ?? 0) + 1);
  }
  progress?.(photos.length, photos.length, "");
  return { gallery, enrolled: [...counts].map(([name, n]) => ({ name, photos: n })), skipped };
}

export interface SegmentOptions {
  name: string;
  startSeconds: number;
  durationSeconds: number;
  /** Descriptors kept, spread over the segment. */
  samples: number;
}

/**
 * Enrolls a person from the frames of a video segment in which exactly one face is visible.
 * Frames with no face or several faces are skipped (and counted).
 */
export async function enrollFromVideo(
  engine: FaceEngine,
  gallery: Gallery,
  file: string,
  options: SegmentOptions,
): Promise<{ gallery: Gallery; used: number; skippedFrames: number }> {
  const found: Float32Array[] = [];
  let skippedFrames = 0;
  for await (const frame of readFrames(file, {
    fps: 2,
    maxWidth: 640,
    maxSeconds: 3600,
    maxPixels: 64_000_000,
    startSeconds: options.startSeconds,
    durationSeconds: options.durationSeconds,
  })) {
    const faces = await engine.detect(frame);
    if (faces.length === 1) found.push((faces[0] as DetectedFace).descriptor);
    else skippedFrames++;
  }
  if (found.length === 0) throw new Error(`no frame of the segment shows exactly one face`);
  const step = Math.max(1, found.length / options.samples);
  const chosen: Float32Array[] = [];
  for (let i = 0; i < found.length && chosen.length < options.samples; i += step)
    chosen.push(found[Math.floor(i)] as Float32Array);
  const source = `${file}@${options.startSeconds}+${options.durationSeconds}s`;
  const base = gallery.people.length === 0 && gallery.model !== ENROLLED_MODEL ? emptyGallery(ENROLLED_MODEL) : gallery;
  if (base.model !== ENROLLED_MODEL)
    throw new Error(`the gallery holds ${base.model} descriptors; enroll into a face-api gallery`);
  return { gallery: addPerson(base, options.name, chosen, [source]), used: chosen.length, skippedFrames };
}
