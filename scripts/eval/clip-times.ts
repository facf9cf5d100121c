// npx tsx scripts/eval/clip-times.ts: the 8 CSE546 clips through analyzeVideo in one process, warm,
// in `first` and `all` mode, each variant's passes alternated with the others' so that the
// machine's drift falls on all alike: the median time for the 8 and whether all 8 are named rightly.
// Variants: the rules and the small-face search's scope as they are, and as they were before
// (MIN_DETECTION_SCORE=0.5, MIN_FACE_PX=32; the whole frame searched on every sampled frame).
import { join } from "node:path";
import { type RecognitionSettings, readRecognitionSettings } from "../../functions/face-recognition/config.js";
import { importGalleryFile } from "../../functions/face-recognition/gallery-import/import.js";
import { analyzeVideo } from "../../functions/face-recognition/pipeline/analyze.js";
import type { FaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import { NoStudentDirectory } from "../../functions/face-recognition/pipeline/students.js";
import { makeAnalyzer, startEngine } from "../../functions/face-recognition/runtime.js";
import { readSettings } from "../../lib/config.js";
import { dataDir } from "../../lib/shared-data.js";
import { cse546Clips } from "./dataset.js";
import { runScript } from "./run-script.js";

const PASSES = Number(process.env.EVAL_PASSES ?? 5);

async function main(): Promise<void> {
  const data = dataDir();
  if (!data) throw new Error("no labeled data");
  const gallery = await importGalleryFile(join(data, "cse546", "encoding.pickle"));
  const clips = await cse546Clips(data);
  const variants: { name: string; settings: RecognitionSettings; engine: FaceEngine; times: number[] }[] = [];
  for (const mode of ["first", "all"] as const)
    for (const before of [false, true]) {
      const env = { ...process.env, RECOGNITION_MODE: mode };
      const settings = readSettings(
        before ? { ...env, MIN_DETECTION_SCORE: "0.5", MIN_FACE_PX: "32" } : env,
        readRecognitionSettings,
      );
      const engine = await startEngine(settings);
      const scoped =
        before && engine.smallFaces ? { ...engine, smallFaces: { ...engine.smallFaces, wholeFrameEvery: 1 } } : engine;
      variants.push({ name: `${mode}${before ? " (before)" : ""}`, settings, engine: scoped, times: [] });
    }
  for (let pass = 0; pass <= PASSES; pass++)
    for (const v of variants) {
      const analyzer = makeAnalyzer(v.settings, v.engine, gallery, new NoStudentDirectory());
      const started = performance.now();
      let right = 0;
      for (const clip of clips) {
        const result = await analyzeVideo(clip.file, clip.id, analyzer);
        const names = result.people.map((p) => p.name);
        if (names.length === clip.expected.length && clip.expected.every((n) => names.includes(n))) right++;
      }
      // Pass 0 warms each variant's paths up, untimed.
      if (pass > 0) v.times.push((performance.now() - started) / 1000);
      if (pass === PASSES) console.log(`${v.name.padEnd(16)} ${right}/${clips.length} right`);
    }
  for (const v of variants) {
    const sorted = [...v.times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    console.log(
      `${v.name.padEnd(16)} median ${median.toFixed(2)} s for the 8 (passes ${v.times.map((t) => t.toFixed(2)).join(" ")})`,
    );
  }
}

runScript("clip-times", main);
