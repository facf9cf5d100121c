// npm run eval: precision and recall of identification over the labeled set built from the shared
// data, for the rules in use and for a sweep around them (how the defaults were chosen).
// Faces are detected once per video; the rules (and the tracker) then run offline on the same detections.
// Then the classroom scenes (eval/classroom-eval.ts): people split by person into a tuning and a test
// split, each scene with its own 1–2-photo gallery; `--scenes N` composes N scenes per split (12).
import { join } from "node:path";
import type { RecognitionSettings } from "../functions/face-recognition/config.js";
import { enrollPhotos } from "../functions/face-recognition/enroll.js";
import { type Gallery, toMatchIndex } from "../functions/face-recognition/gallery/format.js";
import { importGalleryFile } from "../functions/face-recognition/gallery-import/import.js";
import type { FaceEngine } from "../functions/face-recognition/pipeline/faces.js";
import type { MatchRules } from "../functions/face-recognition/pipeline/match.js";
import { frameOptions, matchRules } from "../functions/face-recognition/runtime.js";
import { buildProbes, cse546Clips, type LabeledVideo, score, splitPeople } from "./eval/dataset.js";
import { evaluateClassroom } from "./eval/classroom-eval.js";
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

async function evaluate(setup: EvalSetup): Promise<void> {
  const { data, settings, engine, work } = setup;
  // `npm run eval -- scenes` (or probes, cse546): only those parts; `--scenes N`: N scenes per split.
  const args = process.argv.slice(2);
  const sceneCount = args.indexOf("--scenes");
  const scenesPerSplit = sceneCount >= 0 ? Number.parseInt(args[sceneCount + 1] ?? "", 10) : undefined;
  if (scenesPerSplit !== undefined && !(scenesPerSplit > 0))
    throw new Error("--scenes takes a number of scenes per split");
  const asked = args.filter((a, i) => !a.startsWith("--") && (sceneCount < 0 || i !== sceneCount + 1));
  const runs = (part: "probes" | "cse546" | "scenes") => asked.length === 0 || asked.includes(part);
  const summary: string[] = [];
  console.log(
    `# Identification on the shared labeled data (backend ${engine.backend}, detector ${engine.detector}, ${settings.sampleFps} fps, ${settings.frameWidth} px)`,
  );
  if (runs("probes")) {
    const split = await splitPeople(data);
    const enrolled = await enrollPhotos(engine, split.enroll);
    for (const s of enrolled.skipped) console.log(`enrollment skipped ${s.file}: ${s.reason}`);
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
      matchRules(settings, enrolled.gallery),
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
  if (runs("scenes")) summary.push(await evaluateClassroom(setup, { scenes: scenesPerSplit }));
  console.log(`\nsummary: ${summary.join("; ")}`);
}

runScript("eval", () => withEvalSetup("eval", evaluate));
