// npm run eval: precision and recall of identification over the labeled set built from the shared
// data, for the rules in use and for a sweep around them (how the defaults were chosen).
// Faces are detected once per video; the rules (and the tracker) then run offline on the same detections.
// Then classroom-like scenes composed from the held-out photos (eval/scenes.ts): detection and
// identification by face width and by case, and the time per video.
import { join } from "node:path";
import type { RecognitionSettings } from "../functions/face-recognition/config.js";
import { enrollPhotos } from "../functions/face-recognition/enroll.js";
import { type Gallery, toMatchIndex } from "../functions/face-recognition/gallery/format.js";
import { importGalleryFile } from "../functions/face-recognition/gallery-import/import.js";
import type { FaceEngine } from "../functions/face-recognition/pipeline/faces.js";
import type { MatchRules } from "../functions/face-recognition/pipeline/match.js";
import { frameOptions, matchRules } from "../functions/face-recognition/runtime.js";
import { buildProbes, cse546Clips, type LabeledVideo, score, splitPeople } from "./eval/dataset.js";
import { type SceneObservation, type SceneRow, sceneRows } from "./eval/scene-score.js";
import { composeScenes } from "./eval/scene-video.js";
import type { SceneVideo } from "./eval/scenes.js";
import { runScript } from "./eval/run-script.js";
import { type EvalSetup, type ObservedFrame, observeVideo, trackFrames, withEvalSetup } from "./eval/observe.js";

interface Observed {
  video: LabeledVideo;
  frames: ObservedFrame[];
  /** Decode and inference, wall time. */
  ms: number;
}

async function observe(engine: FaceEngine, videos: LabeledVideo[], settings: RecognitionSettings) {
  const observed: Observed[] = [];
  for (const video of videos)
    observed.push({ video, ...(await observeVideo(engine, video.file, frameOptions(settings))) });
  return observed;
}

function identify(gallery: Gallery, observed: Observed[], rules: MatchRules) {
  const index = toMatchIndex(gallery);
  return observed.map(({ video, frames }) => {
    const tracker = trackFrames(index, rules, frames);
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

function reportScenes(observations: (SceneObservation & { unknownTracks: number })[]): SceneRow {
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
      `  ${o.scene.id.padEnd(10)} ${o.scene.case.padEnd(22)} ${String(o.frames.length).padStart(6)} ${`${(o.ms / 1000).toFixed(2)} s`.padStart(7)} ${String(Math.round(o.ms / Math.max(1, o.frames.length))).padStart(9)}  ${`${o.found.length}/${o.scene.expected.length}`.padStart(5)}  ${o.unknownTracks}/${o.scene.faces.filter((f) => !f.source.name).length}`,
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
  printSweep(rules, sweep, (variant) => {
    const v = score(identify(gallery, observed, variant));
    return `${pct(v.precision).padStart(9)}  ${pct(v.recall).padStart(6)}`;
  });
  return s;
}

/** One line a variant of the rules: its rules, then what `measure` says of it. */
function printSweep(rules: MatchRules, sweep: Partial<MatchRules>[], measure: (variant: MatchRules) => string): void {
  console.log("sweep:          threshold margin minFrames minScore minFacePx  precision  recall");
  for (const change of sweep) {
    const v = { ...rules, ...change };
    const columns = [v.threshold, v.margin, v.minFrames, v.minScore, v.minFacePx].map(String);
    console.log(`  ${columns.map((c, i) => c.padStart([22, 6, 9, 8, 9][i] as number)).join(" ")}  ${measure(v)}`);
  }
}

/** The detection rules (face size, detector score) around the defaults. */
const DETECTION_GRID = [0.4, 0.5].flatMap((minScore) => [24, 32].map((minFacePx) => ({ minScore, minFacePx })));

async function evaluate({ data, settings, engine, work }: EvalSetup): Promise<void> {
  // `npm run eval -- scenes` (or probes, cse546): only those parts.
  const asked = process.argv.slice(2);
  const runs = (part: "probes" | "cse546" | "scenes") => asked.length === 0 || asked.includes(part);
  const summary: string[] = [];
  const split = await splitPeople(data);
  const enrolled = await enrollPhotos(engine, split.enroll);
  for (const s of enrolled.skipped) console.log(`enrollment skipped ${s.file}: ${s.reason}`);
  const faceApiRules = matchRules(settings, enrolled.gallery);
  console.log(
    `# Identification on the shared labeled data (backend ${engine.backend}, detector ${engine.detector}, ${settings.sampleFps} fps, ${settings.frameWidth} px)`,
  );
  if (runs("probes")) {
    const probes = await buildProbes(data, split, work);
    console.log(
      `gallery: ${enrolled.gallery.people.length} people enrolled from ${split.enroll.length} photos; ${probes.length} probe videos`,
    );
    const grid = [
      ...[0.4, 0.45, 0.5, 0.55, 0.6].flatMap((threshold) =>
        [0, 0.05, 0.1].flatMap((margin) => [1, 2].map((minFrames) => ({ threshold, margin, minFrames }))),
      ),
      ...DETECTION_GRID,
    ];
    const s = report(
      "face-api gallery enrolled from people/ (held-out photos, groups, unknowns, no-face)",
      enrolled.gallery,
      await observe(engine, probes, settings),
      faceApiRules,
      grid,
    );
    summary.push(`enrolled gallery precision ${pct(s.precision)} recall ${pct(s.recall)}`);
  }
  if (runs("cse546")) {
    const original = await importGalleryFile(join(data, "cse546", "encoding.pickle"));
    const dlibGrid = [0.5, 0.55, 0.6, 0.65].flatMap((threshold) =>
      [0, 0.05, 0.1].map((margin) => ({ threshold, margin })),
    );
    const s = report(
      "the original encoding.pickle (dlib) on the 8 CSE546 clips",
      original,
      await observe(engine, await cse546Clips(data), settings),
      matchRules(settings, original),
      dlibGrid,
    );
    summary.push(`CSE546 precision ${pct(s.precision)} recall ${pct(s.recall)}`);
  }
  if (runs("scenes")) {
    const scenes = await composeScenes(data, split, work, settings);
    const observed = await observe(
      engine,
      scenes.map((scene) => ({ id: scene.id, kind: "scene", file: scene.file, expected: scene.expected })),
      settings,
    );
    const rows = (rules: MatchRules) => {
      const results = identify(enrolled.gallery, observed, rules);
      return observed.map((o, i) => ({
        scene: scenes[i] as SceneVideo,
        frames: o.frames,
        found: results[i]?.found ?? [],
        unknownTracks: results[i]?.unknownTracks ?? 0,
        ms: o.ms,
      }));
    };
    const all = reportScenes(rows(faceApiRules));
    printSweep(
      faceApiRules,
      [0.5, 0.55, 0.6].flatMap((threshold) => DETECTION_GRID.map((rules) => ({ ...rules, threshold }))),
      (variant) => {
        const { all } = sceneRows(rows(variant));
        return `${`${all.wrongNames} wrong`.padStart(9)}  ${ratio(all.named, all.known).padStart(6)}`;
      },
    );
    summary.push(`scenes recall ${ratio(all.named, all.known)} (${all.wrongNames} wrong names)`);
  }
  console.log(`\nsummary: ${summary.join("; ")}`);
}

runScript("eval", () => withEvalSetup("eval", evaluate));
