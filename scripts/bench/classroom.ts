// The bench's classroom case (issue 22): `all` mode over composed 1080p scenes of 9 faces (5 known
// people, 4 strangers, 24–96 px in rows), against the floor: ffmpeg alone decoding the same sampled
// frames at the same size. Both measured here, in turn, scene by scene. Scenes are planned in
// classroom-plan.ts, drawn with the eval's composer, and cached outside the repository.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RecognitionSettings } from "../../functions/face-recognition/config.js";
import { enrollPhotos } from "../../functions/face-recognition/enroll.js";
import { toMatchIndex } from "../../functions/face-recognition/gallery/format.js";
import type { FrameOptions } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { startDecoderAhead } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { startDecoder } from "../../functions/face-recognition/pipeline/decode/host/host-decoder.js";
import type { FaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import { recognizeVideo } from "../../functions/face-recognition/pipeline/recognize.js";
import { frameOptions, matchRules } from "../../functions/face-recognition/runtime.js";
import { composeFrame, locatePhoto, photoDetector } from "../eval/scene-video.js";
import type { SourcePhoto } from "../eval/scenes.js";
import { CLASSROOM, type ClassroomPlan, countNamed, planClassroom, planKey, toScene } from "./classroom-plan.js";
import { median, REPEATS, round, sum, timed } from "./stats.js";

export interface ClassroomSetup {
  data: string;
  /** The engine `all` mode runs with (the function's). */
  engine: FaceEngine;
  settings: RecognitionSettings;
  scenes: number;
  say: (line: string) => void;
}

export interface ClassroomRow {
  scene: string;
  frames: number;
  /** Medians of REPEATS runs, ms: ours in all, its decode and inference, and the floor. */
  ours: number;
  decode: number;
  inference: number;
  floor: number;
  /** Known people named / shown (the fewest named over the runs), and the most wrong names. */
  named: number;
  known: number;
  wrong: number;
  /** Faces found over the sampled frames, and how many were described (the tracker's budget). */
  located: number;
  described: number;
}

/** Each known person's photos: the last one is pasted in scenes, the first two (of the rest) enrolled, as a class roster. */
async function photos(data: string) {
  const scenePhotos: { name: string; file: string }[] = [];
  const roster: { name: string; file: string }[] = [];
  for (const name of (await readdir(join(data, "people"))).sort()) {
    const files = (await readdir(join(data, "people", name))).sort(
      (a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10),
    );
    const paths = files.map((f) => join(data, "people", name, f));
    if (paths.length < 2) continue;
    scenePhotos.push({ name, file: paths[paths.length - 1] as string });
    for (const file of paths.slice(0, Math.min(2, paths.length - 1))) roster.push({ name, file });
  }
  const extra = join(data, "extra");
  const strangers = (await readdir(extra))
    .filter((f) => f.startsWith("unknown_"))
    .sort()
    .map((f) => join(extra, f));
  return { scenePhotos, roster, strangers };
}

/** A hall seen from its front: darker towards the back, a lighter band of desks below each row. */
function hall(): Buffer {
  const { width, height } = CLASSROOM;
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    const desk = Math.sin((y / height) * Math.PI * 3 + 0.6) > 0.85 ? 25 : 0;
    const base = 60 + (70 * y) / height + desk;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const grain = ((x * 7 + y * 13) % 17) - 8;
      rgb[o] = base + 18 + grain;
      rgb[o + 1] = base + 6 + grain;
      rgb[o + 2] = base - 6 + grain;
    }
  }
  return rgb;
}

/** Encodes one scene: raw frames piped to ffmpeg, H.264 at CLASSROOM's rate, length and CRF. */
async function encode(plan: ClassroomPlan, located: Map<string, SourcePhoto>, backdrop: Buffer, file: string) {
  const scene = toScene(plan, located);
  const ffmpeg = spawn(
    "ffmpeg",
    [
      ...["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"],
      ...["-s", `${CLASSROOM.width}x${CLASSROOM.height}`, "-r", String(CLASSROOM.fps), "-i", "pipe:0"],
      ...["-c:v", "libx264", "-preset", "veryfast", "-crf", String(CLASSROOM.crf), "-pix_fmt", "yuv420p"],
      ...["-threads", "1", "-movflags", "+faststart", file],
    ],
    { stdio: ["pipe", "ignore", "pipe"] },
  );
  let errors = "";
  ffmpeg.stderr.on("data", (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const exited = once(ffmpeg, "close");
  for (let i = 0; i < CLASSROOM.fps * CLASSROOM.seconds; i++) {
    if (!ffmpeg.stdin.write(composeFrame(scene, i / CLASSROOM.fps, backdrop))) await once(ffmpeg.stdin, "drain");
  }
  ffmpeg.stdin.end();
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`ffmpeg failed to encode ${plan.id}: ${errors.trim()}`);
}

/**
 * The scenes' files, from the cache folder when a run has built them (its name is the plans' hash),
 * else located (SSD, as the eval's scenes), drawn and encoded into it, which is renamed into place
 * only when complete.
 */
async function sceneFiles(plans: ClassroomPlan[], settings: RecognitionSettings, say: (line: string) => void) {
  const dir = join(tmpdir(), `facerec-bench-classroom-${planKey(plans, "ssd")}`);
  const files = plans.map((plan) => join(dir, `${plan.id}.mp4`));
  if (files.every((f) => existsSync(f))) return { dir, files };
  say(`composing ${plans.length} classroom scenes into ${dir} ...`);
  const detect = await photoDetector(settings);
  const located = new Map<string, SourcePhoto>();
  for (const face of plans.flatMap((p) => p.faces))
    if (!located.has(face.photo)) located.set(face.photo, await locatePhoto(face.name, face.photo, detect));
  const building = `${dir}.part-${process.pid}`;
  await mkdir(building, { recursive: true });
  const backdrop = hall();
  for (const plan of plans) await encode(plan, located, backdrop, join(building, `${plan.id}.mp4`));
  await writeFile(join(building, "plans.json"), JSON.stringify(plans, null, 2));
  await rm(dir, { recursive: true, force: true });
  await rename(building, dir);
  return { dir, files };
}

/** The floor: the same sampled frames, at the same size, decoded by an ffmpeg started for them. */
async function decodeOnly(file: string, options: FrameOptions): Promise<number> {
  let frames = 0;
  for await (const _ of startDecoder(file, options, { probe: false }).frames()) frames++;
  return frames;
}

export interface ClassroomSummary {
  scenes: ClassroomRow[];
  total: ClassroomRow & { msPerFrame: number; oursOverFloor: number };
  namedByWidth: Record<string, string>;
}

export async function benchClassroom(setup: ClassroomSetup): Promise<ClassroomSummary> {
  const { data, engine, say } = setup;
  const settings: RecognitionSettings = { ...setup.settings, mode: "all" };
  const { scenePhotos, roster, strangers } = await photos(data);
  const plans = planClassroom(scenePhotos, strangers, setup.scenes);
  const { dir, files } = await sceneFiles(plans, settings, say);
  const enrolled = await enrollPhotos(engine, roster);
  for (const s of enrolled.skipped) say(`classroom roster: skipped ${s.file}: ${s.reason}`);
  const index = toMatchIndex(enrolled.gallery);
  const rules = matchRules(settings, enrolled.gallery);
  const frames = frameOptions(settings);
  // As the function does in `all` mode: an ffmpeg kept started ahead for the next video.
  startDecoderAhead(frames);
  const ours = (file: string) => recognizeVideo(file, engine, index, { mode: "all", frames, rules });
  // Warm: the first video with faces runs code paths the engine's warm-up (a blank image) cannot.
  await ours(files[0] as string);

  say(
    `\n## classroom: all mode, ${plans.length} scenes ${CLASSROOM.width}×${CLASSROOM.height}, ${CLASSROOM.known} known + ${CLASSROOM.strangers} strangers, faces 24–96 px in rows, ${CLASSROOM.seconds} s at ${CLASSROOM.fps} fps, CRF ${CLASSROOM.crf} (${dir})`,
  );
  say(
    `roster: ${enrolled.gallery.people.length} people from ${roster.length} photos (none pasted in a scene); sampled at ${settings.sampleFps} fps, ${frames.maxWidth} px wide; median of ${REPEATS}, ms`,
  );
  say(
    "ours: recognizeVideo's wall time, split as it reports it (decode: waiting for frames); floor: ffmpeg alone, same frames",
  );
  say("scene   frames    ours ms/frame  decode inference |  floor ours/floor | named wrong | described/found");
  const rows: ClassroomRow[] = [];
  const byWidth = new Map<number, { named: number; shown: number }>();
  for (const [i, plan] of plans.entries()) {
    const file = files[i] as string;
    const runs: {
      ms: number;
      decode: number;
      inference: number;
      frames: number;
      found: string[];
      faces: { located: number; described: number };
    }[] = [];
    const floors: number[] = [];
    let floorFrames = 0;
    // In turn, so that the machine's drift touches both alike.
    for (let r = 0; r < REPEATS; r++) {
      const [result, ms] = await timed(() => ours(file));
      runs.push({
        ms,
        ...result.timingsMs,
        frames: result.framesExamined,
        found: result.people.map((p) => p.name),
        faces: result.faces,
      });
      const [decoded, floorMs] = await timed(() => decodeOnly(file, frames));
      floors.push(floorMs);
      floorFrames = decoded;
    }
    const counts = runs.map((run) => countNamed(plan, run.found));
    const fewest = counts.reduce((a, b) => (b.named < a.named ? b : a));
    for (const [width, w] of fewest.byWidth) {
      const total = byWidth.get(width) ?? { named: 0, shown: 0 };
      byWidth.set(width, { named: total.named + w.named, shown: total.shown + w.shown });
    }
    const frameCount = runs[0]?.frames ?? 0;
    if (frameCount !== floorFrames)
      say(`  ${plan.id}: ours sampled ${frameCount} frames, the floor decoded ${floorFrames}`);
    const row: ClassroomRow = {
      scene: plan.id,
      frames: frameCount,
      ours: round(median(runs.map((r) => r.ms))),
      decode: round(median(runs.map((r) => r.decode))),
      inference: round(median(runs.map((r) => r.inference))),
      floor: round(median(floors)),
      named: fewest.named,
      known: fewest.known,
      wrong: Math.max(...counts.map((c) => c.wrong)),
      located: runs[0]?.faces.located ?? 0,
      described: runs[0]?.faces.described ?? 0,
    };
    rows.push(row);
    say(line(row));
  }
  const total: ClassroomRow = {
    scene: "total",
    frames: sum(rows.map((r) => r.frames)),
    ours: sum(rows.map((r) => r.ours)),
    decode: sum(rows.map((r) => r.decode)),
    inference: sum(rows.map((r) => r.inference)),
    floor: sum(rows.map((r) => r.floor)),
    named: sum(rows.map((r) => r.named)),
    known: sum(rows.map((r) => r.known)),
    wrong: sum(rows.map((r) => r.wrong)),
    located: sum(rows.map((r) => r.located)),
    described: sum(rows.map((r) => r.described)),
  };
  say(line(total));
  const namedByWidth = Object.fromEntries(
    [...byWidth].sort(([a], [b]) => a - b).map(([width, w]) => [`${width}px`, `${w.named}/${w.shown}`]),
  );
  say(
    `named by face width: ${Object.entries(namedByWidth)
      .map(([w, c]) => `${w} ${c}`)
      .join(" · ")}`,
  );
  return {
    scenes: rows,
    total: { ...total, msPerFrame: perFrame(total), oursOverFloor: Number((total.ours / total.floor).toFixed(2)) },
    namedByWidth,
  };
}

const perFrame = (row: ClassroomRow) => round(row.ours / Math.max(1, row.frames));

function line(r: ClassroomRow): string {
  const ratio = (r.ours / Math.max(1, r.floor)).toFixed(1);
  return `${r.scene.padEnd(7)} ${String(r.frames).padStart(6)} ${String(r.ours).padStart(7)} ${String(perFrame(r)).padStart(8)} ${String(r.decode).padStart(7)} ${String(r.inference).padStart(9)} | ${String(r.floor).padStart(6)} ${ratio.padStart(10)} | ${`${r.named}/${r.known}`.padStart(5)} ${String(r.wrong).padStart(5)} | ${`${r.described}/${r.located}`.padStart(15)}`;
}
