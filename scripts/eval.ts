// npm run eval: precision and recall of identification over the labeled set built from the shared
// data, for the rules in use and for a sweep around them (how the defaults were chosen).
// Faces are detected once per video; the rules (and the tracker) then run offline on the same detections.
// Then classroom-like scenes composed from the held-out photos (eval/scenes.ts): detection and
// identification by face width and by case, and the time per video.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSettings } from "../lib/config.js";
import { readRecognitionSettings } from "../functions/face-recognition/config.js";
import { enrollPhotos } from "../functions/face-recognition/enroll.js";
import { type Gallery, toMatchIndex } from "../functions/face-recognition/gallery/format.js";
import { importGalleryFile } from "../functions/face-recognition/gallery-import/import.js";
import type { DetectedFace, FaceEngine } from "../functions/face-recognition/pipeline/faces.js";
import { readFrames } from "../functions/face-recognition/pipeline/decode/decoder.js";
import { judgeFace, type MatchRules } from "../functions/face-recognition/pipeline/match.js";
import { Tracker } from "../functions/face-recognition/pipeline/tracks.js";
import { frameOptions, matchRules, startEngine } from "../functions/face-recognition/runtime.js";
import { buildProbes, cse546Clips, type LabeledVideo, score, splitPeople } from "./eval/dataset.js";
import { type SceneObservation, type SceneRow, sceneRows } from "./eval/scene-score.js";
import { composeScenes } from "./eval/scene-video.js";
import type { SceneVideo } from "./eval/scenes.js";
import { runScript } from "./eval/run-script.js";
import { dataDir, DATA_ENV } from "../lib/shared-data.js";

interface Observed {
  video: LabeledVideo;
  frames: { timeMs: number; width: number; faces: DetectedFace[] }[];
  /** Decode and inference, wall time. */
  ms: number;
}

async function observe(
  engine: FaceEngine,
  videos: LabeledVideo[],
  settings: ReturnType<typeof readRecognitionSettings>,
) {
  const observed: Observed[] = [];
  for (const video of videos) {
    const frames: Observed["frames"] = [];
    const started = performance.now();
    for await (const frame of readFrames(video.file, frameOptions(settings))) {
      frames.push({ timeMs: frame.timeMs, width: frame.width, faces: await engine.detect(frame) });
    }
    observed.push({ video, frames, ms: performance.now() - started });
  }
  return observed;
}

function identify(gallery: Gallery, observed: Observed[], rules: MatchRules) {
  const index = toMatchIndex(gallery);
  return observed.map(({ video, frames }) => {
    // As recognizeVideo in `all` mode: faces tracked across frames, each track named from all its faces.
    const tracker = new Tracker(index, rules);
    for (const f of frames)
      tracker.addFrame(
        f.timeMs,
        f.faces,
        f.faces.map((face) => judgeFace(index, face, rules)),
      );
    return {
      video,
      expected: video.expected,
      found: tracker.people().map((p) => p.name),
      unknownTracks: tracker.unknownTracks(),
    };
  });
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ratio = (part: number, whole: number) => (whole === 0 ? "-" : pct(part / whole));

function printSceneRows(title: string, rows: SceneRow[]): void {
  console.log(`${title.padEnd(22)} detected (face-frames)   named (recall)   wrong names  false detections`);
  for (const r of rows)
    console.log(
      `  ${r.label.padEnd(20)} ${`${r.detected}/${r.shown}`.padStart(9)} ${ratio(r.detected, r.shown).padStart(7)}    ${`${r.named}/${r.known}`.padStart(6)} ${ratio(r.named, r.known).padStart(7)}   ${String(r.wrongNames).padStart(10)}  ${String(r.falseDetections).padStart(16)}`,
    );
}

function reportScenes(
  observed: Observed[],
  results: { found: string[]; unknownTracks: number }[],
  scenes: SceneVideo[],
): SceneRow {
  const observations: SceneObservation[] = observed.map((o, i) => ({
    scene: scenes[i] as SceneVideo,
    frames: o.frames,
    found: results[i]?.found ?? [],
    ms: o.ms,
  }));
  const { byWidth, byCase, all } = sceneRows(observations);
  console.log("\n## composed classroom scenes (1080p, 6 known + 2 strangers each; face-api gallery)");
  printSceneRows("by face width", byWidth);
  printSceneRows("by case", byCase);
  printSceneRows("", [all]);
  const precision = all.named + all.wrongNames === 0 ? 1 : all.named / (all.named + all.wrongNames);
  console.log(`precision ${pct(precision)}  recall ${ratio(all.named, all.known)}`);
  console.log("per video:   case                   frames   time    ms/frame  named  strangers (unknown tracks/shown)");
  for (const o of observations)
    console.log(
      `  ${o.scene.id.padEnd(10)} ${o.scene.case.padEnd(22)} ${String(o.frames.length).padStart(6)} ${`${(o.ms / 1000).toFixed(2)} s`.padStart(7)} ${String(Math.round(o.ms / Math.max(1, o.frames.length))).padStart(9)}  ${`${o.found.length}/${o.scene.expected.length}`.padStart(5)}  ${results[observations.indexOf(o)]?.unknownTracks}/${o.scene.faces.filter((f) => !f.source.name).length}`,
    );
  return all;
}

function report(
  title: string,
  gallery: Gallery,
  observed: Observed[],
  rules: MatchRules,
  sweep: Partial<MatchRules>[],
) {
  const results = identify(gallery, observed, rules);
  const s = score(results);
  console.log(`\n## ${title}`);
  console.log(`rules in use: ${JSON.stringify(rules)}`);
  console.log(
    `precision ${pct(s.precision)}  recall ${pct(s.recall)}  (TP ${s.truePositives}, FP ${s.falsePositives}, FN ${s.falseNegatives}, ${results.length} videos)`,
  );
  for (const r of results) {
    const ok = r.expected.length === r.found.length && r.expected.every((n) => r.found.includes(n));
    if (!ok)
      console.log(
        `  ${r.video.kind.padEnd(8)} ${r.video.id.padEnd(26)} expected [${r.expected.join(", ")}]  found [${r.found.join(", ")}]`,
      );
  }
  console.log("sweep:          threshold margin minFrames  precision  recall");
  for (const change of sweep) {
    const variant = { ...rules, ...change };
    const v = score(identify(gallery, observed, variant));
    console.log(
      `  ${String(variant.threshold).padStart(22)} ${String(variant.margin).padStart(6)} ${String(variant.minFrames).padStart(9)}  ${pct(v.precision).padStart(9)}  ${pct(v.recall).padStart(6)}`,
    );
  }
  return s;
}

async function main(): Promise<void> {
  const data = dataDir();
  if (!data) throw new Error(`no labeled data: set ${DATA_ENV} to the shared data folder`);
  const settings = readSettings(process.env, readRecognitionSettings);
  const engine = await startEngine(settings);
  const work = await mkdtemp(join(tmpdir(), "facerec-eval-"));
  try {
    const split = await splitPeople(data);
    const enrolled = await enrollPhotos(engine, split.enroll);
    for (const s of enrolled.skipped) console.log(`enrollment skipped ${s.file}: ${s.reason}`);
    const probes = await buildProbes(data, split, work);
    console.log(
      `# Identification on the shared labeled data (backend ${engine.backend}, detector ${engine.detector}, ${settings.sampleFps} fps, ${settings.frameWidth} px)`,
    );
    console.log(
      `gallery: ${enrolled.gallery.people.length} people enrolled from ${split.enroll.length} photos; ${probes.length} probe videos`,
    );
    const observedProbes = await observe(engine, probes, settings);
    const faceApiRules = matchRules(settings, enrolled.gallery);
    const grid = [0.4, 0.45, 0.5, 0.55, 0.6].flatMap((threshold) =>
      [0, 0.05, 0.1].flatMap((margin) => [1, 2].map((minFrames) => ({ threshold, margin, minFrames }))),
    );
    const enrolledScore = report(
      "face-api gallery enrolled from people/ (held-out photos, groups, unknowns, no-face)",
      enrolled.gallery,
      observedProbes,
      faceApiRules,
      grid,
    );

    const original = await importGalleryFile(join(data, "cse546", "encoding.pickle"));
    const clips = await cse546Clips(data);
    const observedClips = await observe(engine, clips, settings);
    const dlibGrid = [0.5, 0.55, 0.6, 0.65].flatMap((threshold) =>
      [0, 0.05, 0.1].map((margin) => ({ threshold, margin })),
    );
    const scenes = await composeScenes(data, split, work, settings);
    const observedScenes = await observe(
      engine,
      scenes.map((scene) => ({ id: scene.id, kind: "scene", file: scene.file, expected: scene.expected })),
      settings,
    );
    const sceneScore = reportScenes(observedScenes, identify(enrolled.gallery, observedScenes, faceApiRules), scenes);

    const cseScore = report(
      "the original encoding.pickle (dlib) on the 8 CSE546 clips",
      original,
      observedClips,
      matchRules(settings, original),
      dlibGrid,
    );
    console.log(
      `\nsummary: enrolled gallery precision ${pct(enrolledScore.precision)} recall ${pct(enrolledScore.recall)}; scenes recall ${ratio(sceneScore.named, sceneScore.known)} (${sceneScore.wrongNames} wrong names); CSE546 precision ${pct(cseScore.precision)} recall ${pct(cseScore.recall)}`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runScript("eval", main);
