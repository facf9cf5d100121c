// A small labeled set for a clone without the shared data, made from the sample photos that ship
// inside @vladmandic/face-api (demo/sample*.jpg). From each photo the most confident face becomes
// a "person": enrolled from a tight crop of that face, and seen in a video (made with ffmpeg) of a
// wider crop around it. Students get made-up majors and years.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { readSettings } from "../../lib/config.js";
import { readRecognitionSettings } from "../../functions/face-recognition/config.js";
import { enrollPhotos } from "../../functions/face-recognition/enroll.js";
import { saveGallery } from "../../functions/face-recognition/gallery/storage.js";
import type { Box } from "../../functions/face-recognition/pipeline/faces.js";
import { readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { startEngine } from "../../functions/face-recognition/runtime.js";
import { videoFromImage } from "../eval/dataset.js";
import type { Upload } from "../workload.js";

const run = promisify(execFile);
const MAJORS = ["physics", "history", "math", "computer_science", "biology", "music"];
const YEARS = ["freshman", "sophomore", "junior", "senior", "junior", "senior"];

export interface SampleData {
  dir: string;
  galleryFile: string;
  studentsFile: string;
  uploads: Upload[];
}

export async function buildSampleData(): Promise<SampleData> {
  const requireHere = createRequire(import.meta.url);
  const demoDir = join(dirname(requireHere.resolve("@vladmandic/face-api/package.json")), "demo");
  const dir = await mkdtemp(join(tmpdir(), "facerec-sample-"));
  const engine = await startEngine(readSettings(process.env, readRecognitionSettings));
  const people: { name: string; file: string }[] = [];
  const uploads: Upload[] = [];
  const students: { name: string; major: string; year: string }[] = [];
  for (let n = 1; n <= 6; n++) {
    const photo = join(demoDir, `sample${n}.jpg`);
    const face = await mostConfidentFace(engine, photo);
    if (!face) continue;
    const name = `sample${n}_person`;
    const i = students.length;
    await mkdir(join(dir, "people", name), { recursive: true });
    const tight = join(dir, "people", name, "1.png");
    await crop(photo, face, 1.2, tight);
    const wide = join(dir, `${name}_scene.png`);
    await crop(photo, face, 3, wide);
    const video = await videoFromImage(wide, join(dir, `sample_${n}.mp4`));
    people.push({ name, file: tight });
    students.push({ name, major: MAJORS[i] as string, year: YEARS[i] as string });
    uploads.push({ key: `sample_${n}.mp4`, file: video, expected: `${MAJORS[i]},${YEARS[i]}`, person: name });
  }
  const enrolled = await enrollPhotos(engine, people);
  const galleryFile = join(dir, "gallery.json");
  await saveGallery(galleryFile, enrolled.gallery);
  const studentsFile = join(dir, "student_data.json");
  await writeFile(studentsFile, JSON.stringify(students, null, 2));
  return { dir, galleryFile, studentsFile, uploads };
}

/** The most confident face, in the photo's own pixel coordinates. */
async function mostConfidentFace(
  engine: Awaited<ReturnType<typeof startEngine>>,
  photo: string,
): Promise<Box | undefined> {
  const { stdout } = await run("ffprobe", [
    "-v",
    "error",
    "-select_streams",
    "v",
    "-show_entries",
    "stream=width",
    "-of",
    "csv=p=0",
    photo,
  ]);
  const width = Number(stdout.trim());
  for await (const frame of readFrames(photo, { fps: 0, maxWidth: 1280, maxSeconds: 1, maxPixels: 64_000_000 })) {
    const best = (await engine.detect(frame)).sort((a, b) => b.score - a.score)[0];
    if (!best) return undefined;
    const k = width / frame.width;
    return { x: best.box.x * k, y: best.box.y * k, width: best.box.width * k, height: best.box.height * k };
  }
  return undefined;
}

/** A square crop `scale` times the face's size, centred on it, clamped to the picture. */
async function crop(photo: string, face: Box, scale: number, out: string): Promise<void> {
  const side = Math.round(Math.max(face.width, face.height) * scale);
  const cx = face.x + face.width / 2;
  const cy = face.y + face.height / 2;
  const filter = `crop='min(${side},iw)':'min(${side},ih)':'max(0,min(iw-min(${side},iw),${Math.round(cx - side / 2)}))':'max(0,min(ih-min(${side},ih),${Math.round(cy - side / 2)}))'`;
  await run("ffmpeg", ["-v", "error", "-y", "-i", photo, "-vf", filter, out]);
}
