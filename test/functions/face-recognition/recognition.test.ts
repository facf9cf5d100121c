// The pipeline on the real labeled data, real models and real ffmpeg (no services).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../../lib/config.js";
import { readRecognitionSettings } from "../../../functions/face-recognition/config.js";
import { enrollPhotos, SMALL_COPY_WIDTHS } from "../../../functions/face-recognition/enroll.js";
import { importGalleryFile } from "../../../functions/face-recognition/gallery-import/import.js";
import { type Gallery, toMatchIndex } from "../../../functions/face-recognition/gallery/format.js";
import { type Analyzer, analyzeVideo } from "../../../functions/face-recognition/pipeline/analyze.js";
import { euclidean } from "../../../functions/face-recognition/pipeline/match.js";
import { toCsv } from "../../../functions/face-recognition/pipeline/report.js";
import { FileStudentDirectory } from "../../../functions/face-recognition/pipeline/students.js";
import { makeAnalyzer, startEngine } from "../../../functions/face-recognition/runtime.js";
import {
  buildProbes,
  cse546Clips,
  type LabeledVideo,
  splitPeople,
  videoFromImage,
} from "../../../scripts/eval/dataset.js";
import { requireData } from "../../support/data.js";

const data = requireData();
// The defaults, except FACE_SPEEDUPS: project "stock" (vitest.config.ts) runs this file on stock face-api.
const settings = readSettings({ FACE_SPEEDUPS: process.env.FACE_SPEEDUPS }, readRecognitionSettings);

describe.skipIf(!data)("the 8 CSE546 clips with the original encoding.pickle", () => {
  const dir = data as string;
  let analyzer: Analyzer;
  let students: FileStudentDirectory;
  let gallery: Gallery;
  let mapping: Map<string, string>;

  beforeAll(async () => {
    const [engine, cse546Gallery, directory] = await Promise.all([
      startEngine(settings),
      importGalleryFile(join(dir, "cse546", "encoding.pickle")),
      FileStudentDirectory.load(join(dir, "cse546", "student_data.json")),
    ]);
    gallery = cse546Gallery;
    students = directory;
    analyzer = makeAnalyzer(settings, engine, gallery, students);
    const lines = (await readFile(join(dir, "cse546", "mapping"), "utf8")).trim().split("\n");
    mapping = new Map(lines.map((l) => l.split(":") as [string, string]));
  });

  // Each mode with its own defaults (the rules depend on the mode), as the function runs it.
  const analyzerFor = async (env: NodeJS.ProcessEnv) => {
    const modeSettings = readSettings({ ...env, FACE_SPEEDUPS: process.env.FACE_SPEEDUPS }, readRecognitionSettings);
    return makeAnalyzer(modeSettings, await startEngine(modeSettings), gallery, students);
  };

  for (const mode of ["all", "first"] as const) {
    it(`names the right student in each clip, with the grader's major and year (${mode} mode)`, async () => {
      const modeAnalyzer = await analyzerFor({ RECOGNITION_MODE: mode });
      expect(modeAnalyzer.mode).toBe(mode);
      for (const clip of await cse546Clips(dir)) {
        const result = await analyzeVideo(clip.file, clip.id, modeAnalyzer);
        expect(
          result.people.map((p) => p.name),
          clip.id,
        ).toEqual(clip.expected);
        const [major, year] = (mapping.get(`${clip.id}.mp4`) as string).split(",");
        expect(toCsv(result.people)).toBe(`name,major,year\r\n${clip.expected[0]},${major},${year}\r\n`);
      }
    });
  }

  it("names nobody in the no-face cartoon in first mode at every frame, where one frame decides", async () => {
    // At detection score 0.4 (all mode's) a cartoon face here, scored 0.42 in one frame, is named president_trump.
    const first = await analyzerFor({ RECOGNITION_MODE: "first", SAMPLE_FPS: "30" });
    const folder = mkdtempSync(join(tmpdir(), "cartoon-"));
    try {
      const video = join(folder, "cartoon.mp4");
      copyFileSync(join(dir, "videos", "no_face_big_buck_bunny.mp4"), video);
      const result = await analyzeVideo(video, "cartoon", first);
      expect(result.framesExamined).toBe(100);
      expect(result.people).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("keeps the engine's tensor count flat across many frames (nothing leaks)", async () => {
    const clips = await cse546Clips(dir);
    await analyzeVideo((clips[0] as LabeledVideo).file, "warm", analyzer);
    const before = analyzer.engine.tensorCount();
    for (const clip of clips)
      await analyzeVideo(clip.file, clip.id, { ...analyzer, frames: { ...analyzer.frames, fps: 5 } });
    expect(analyzer.engine.tensorCount()).toBe(before);
  });
});

describe.skipIf(!data)("a gallery enrolled from people/, on videos made from the shared photos", () => {
  const dir = data as string;
  const found = new Map<string, { video: LabeledVideo; names: string[] }>();
  let skipped: string[] = [];
  let photos = 0;
  let gallery: Gallery;
  let heldOut: Gallery;
  let analyzer: Analyzer;
  let split: Awaited<ReturnType<typeof splitPeople>>;

  beforeAll(async () => {
    const engine = await startEngine(settings);
    split = await splitPeople(dir);
    const enrolled = await enrollPhotos(engine, split.enroll);
    photos = split.enroll.length;
    gallery = enrolled.gallery;
    // The held-out photos' own small copies stand for small faces of people the gallery knows.
    heldOut = (await enrollPhotos(engine, split.heldOut)).gallery;
    skipped = enrolled.skipped.map((s) => s.file);
    const students = await FileStudentDirectory.load(join(dir, "cse546", "student_data.json"));
    analyzer = makeAnalyzer(settings, engine, enrolled.gallery, students);
    for (const video of await buildProbes(dir, split, mkdtempSync(join(tmpdir(), "probes-")))) {
      const result = await analyzeVideo(video.file, video.id, analyzer);
      found.set(video.id, { video, names: result.people.map((p) => p.name) });
    }
  }, 600_000);

  const ofKind = (kind: LabeledVideo["kind"]) => [...found.values()].filter((f) => f.video.kind === kind);

  it("enrolls every photo of the 12 people, tight crops included", () => {
    expect(skipped).toEqual([]);
  });

  it("enrolls each photo also shrunk to 32 and 48 px, as the small-face search finds such faces", () => {
    const copies = gallery.people.reduce((n, p) => n + (p.smallFaceDescriptors?.length ?? 0), 0);
    expect(copies).toBeGreaterThanOrEqual(Math.floor(0.9 * SMALL_COPY_WIDTHS.length * photos));
    expect(copies).toBeLessThanOrEqual(SMALL_COPY_WIDTHS.length * photos);
  });

  it("puts a known face 32 px wide nearer the person's small copies than their photos", () => {
    const index = toMatchIndex(gallery);
    const nearest = (name: string, small: boolean, probe: Float32Array) =>
      Math.min(
        ...[...index.labels.keys()]
          .filter((r) => index.names[index.labels[r] as number] === name && index.small[r] === (small ? 1 : 0))
          .map((r) => euclidean(index.descriptors.subarray(r * 128, (r + 1) * 128), probe)),
      );
    const pairs = heldOut.people.flatMap((p) => {
      const probe = p.smallFaceDescriptors?.[0];
      return probe
        ? [
            {
              photos: nearest(p.name, false, Float32Array.from(probe)),
              copies: nearest(p.name, true, Float32Array.from(probe)),
            },
          ]
        : [];
    });
    expect(pairs.length).toBeGreaterThanOrEqual(10);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(pairs.map((p) => p.copies))).toBeLessThan(mean(pairs.map((p) => p.photos)) - 0.02);
    expect(pairs.filter((p) => p.copies < p.photos).length).toBeGreaterThanOrEqual(0.75 * pairs.length);
  });

  it("identifies nobody in videos of unknown people, a blank image or a cartoon", () => {
    const nobody = [...ofKind("unknown"), ...ofKind("no-face")];
    expect(nobody.length).toBe(8);
    for (const f of nobody) expect(f.names, f.video.id).toEqual([]);
  });

  it("never names someone who is not there", () => {
    for (const f of [...ofKind("held-out"), ...ofKind("group")]) {
      for (const name of f.names) expect(f.video.expected, `${f.video.id} → ${name}`).toContain(name);
    }
  });

  it("identifies every held-out photo (stuart's shadowed three-quarter view on the engine's second look)", () => {
    const right = ofKind("held-out").filter((f) => f.names.length === 1 && f.names[0] === f.video.expected[0]);
    expect(right.map((f) => f.video.id)).toHaveLength(ofKind("held-out").length);
    expect(right.length).toBe(12);
  });

  it("gives the right set of names for the Big Bang Theory group photos", () => {
    for (const id of ["bbt3.jpg", "bbt4.jpg", "bbt5.jpg", "bbt2.jpg"]) {
      const f = found.get(id);
      expect([...(f?.names ?? [])].sort(), id).toEqual([...(f?.video.expected ?? ["?"])].sort());
    }
  });

  it("names three people shown one after another at one place, each once, in order, each seen only in their turn", async () => {
    const work = mkdtempSync(join(tmpdir(), "in-turn-"));
    try {
      const people = ["sheldon", "penny", "raj"];
      const parts = [];
      for (const name of people) {
        const photo = split.heldOut.find((p) => p.name === name)?.file as string;
        parts.push(await videoFromImage(photo, join(work, `${name}.mp4`), 2));
      }
      writeFileSync(join(work, "list.txt"), parts.map((f) => `file '${f}'`).join("\n"));
      const clip = join(work, "in-turn.mp4");
      execFileSync("ffmpeg", [
        "-v",
        "error",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        join(work, "list.txt"),
        "-c",
        "copy",
        clip,
      ]);
      const result = await analyzeVideo(clip, "in-turn", { ...analyzer, mode: "all" });
      expect(result.people.map((p) => p.name)).toEqual(people);
      result.people.forEach((person, turn) => {
        expect(person.firstSeen, person.name).toBeGreaterThanOrEqual(turn * 2);
        expect(person.lastSeen, person.name).toBeLessThan((turn + 1) * 2);
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
