// Enrollment: known faces into a gallery, from a folder of photos (one sub-folder per person) or
// from a segment of a video. A photo with no face or several faces is reported and skipped, never
// enrolled silently.
import { readdir } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import { addPerson, emptyGallery } from "./gallery/enrollment.js";
import type { Gallery } from "./gallery/format.js";
import type { DetectedFace, FaceEngine } from "./pipeline/faces.js";
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
async function facesInPhoto(engine: FaceEngine, file: string, maxWidth = 640): Promise<DetectedFace[]> {
  for (const padFactor of [1, 2, 3]) {
    for await (const frame of readFrames(file, { fps: 0, maxWidth, maxSeconds: 1, maxPixels: 64_000_000, padFactor })) {
      const faces = await engine.detect(frame);
      if (faces.length > 0) return faces;
      break;
    }
  }
  return [];
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
    let faces: DetectedFace[];
    try {
      faces = await facesInPhoto(engine, photo.file);
    } catch (err) {
      skipped.push({ file, reason: `unreadable: ${(err as Error).message}` });
      continue;
    }
    if (faces.length !== 1) {
      skipped.push({ file, reason: faces.length === 0 ? "no face found" : `${faces.length} faces found` });
      continue;
    }
    gallery = addPerson(gallery, photo.name, [(faces[0] as DetectedFace).descriptor], [file]);
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
