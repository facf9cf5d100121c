// `npm run eval -- scenes [--scenes N]`: the classroom scenes (classroom.ts) through the engine in
// `all` mode, each named with its own gallery (its roster's 1–2 photos per person), reported for
// the tuning split and the test split apart, always as counts. Rules may be tuned on the tuning
// split only (its sweep is printed); the test split's figures are the ones that decide.
import { ENROLLED_MODEL, enrollPhotos } from "../../functions/face-recognition/enroll.js";
import { addPerson, emptyGallery } from "../../functions/face-recognition/gallery/enrollment.js";
import type { Gallery, GalleryPerson } from "../../functions/face-recognition/gallery/format.js";
import { toMatchIndex } from "../../functions/face-recognition/gallery/format.js";
import type { RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import type { MatchRules } from "../../functions/face-recognition/pipeline/match.js";
import { frameOptions, matchRules } from "../../functions/face-recognition/runtime.js";
import { composeClassroom } from "./classroom.js";
import type { SplitPart } from "./classroom-split.js";
import { type EvalSetup, type ObservedFrame, observeVideo, trackFrames } from "./observe.js";
import { type SceneObservation, type SceneRow, sceneRows } from "./scene-score.js";
import type { SceneVideo } from "./scenes.js";

interface Watched {
  scene: SceneVideo;
  gallery: Gallery;
  frames: ObservedFrame[];
  ms: number;
}

const counts = (part: number, whole: number) =>
  whole === 0 ? "-" : `${part}/${whole} (${Math.round((100 * part) / whole)}%)`;

function printRows(title: string, rows: SceneRow[], perScene: boolean): void {
  console.log(
    `${title.padEnd(26)}${"detected face-frames".padStart(22)}${"named/present".padStart(18)}${perScene ? "  wrong names  false detections" : ""}`,
  );
  for (const r of rows) {
    if (r.shown === 0 && r.known === 0) continue;
    const tail = perScene ? `${String(r.wrongNames).padStart(13)}${String(r.falseDetections).padStart(18)}` : "";
    console.log(
      `  ${r.label.padEnd(24)}${counts(r.detected, r.shown).padStart(22)}${counts(r.named, r.known).padStart(18)}${tail}`,
    );
  }
}

/** Each scene named by the tracker as `all` mode names it, with the scene's gallery and `change` to its rules. */
function judge(watched: Watched[], settings: EvalSetup["settings"], change: Partial<MatchRules> = {}) {
  return watched.map(({ scene, gallery, frames, ms }) => {
    const tracker = trackFrames(toMatchIndex(gallery), { ...matchRules(settings, gallery), ...change }, frames);
    const found = tracker.people().map((p) => p.name);
    return { scene, frames, found, ms, unknownTracks: tracker.unknownTracks() } satisfies SceneObservation & {
      unknownTracks: number;
    };
  });
}

function reportPart(part: SplitPart, watched: Watched[], settings: EvalSetup["settings"]): string {
  const observations = judge(watched, settings);
  const rows = sceneRows(observations);
  const { all } = rows;
  const who = part.people.map((p) => `${p.name} (${p.gallery.length} enrolled, ${p.scene.length} shown)`);
  console.log(`\n## ${part.name} split: ${watched.length} scenes`);
  console.log(`people: ${who.join(", ")}`);
  console.log(`strangers: ${part.strangers.map((f) => f.split("/").pop()).join(", ")} and 2 left-out people per scene`);
  printRows("by face width", rows.byWidth, false);
  printRows("by condition", rows.byCondition, true);
  printRows("by gallery size", rows.byGallery, false);
  printRows("", [all], true);
  const hours = rows.seconds / 3600;
  const right = rows.named - all.wrongNames;
  console.log(
    `precision: ${right}/${rows.named} names right (${all.wrongNames} wrong names); false names per hour of video: ${(all.wrongNames / hours).toFixed(0)} (${all.wrongNames} in ${rows.seconds} s)`,
  );
  console.log(
    "per video:  condition       background                          CRF frames   time  ms/frame named  missed (name@px), wrong",
  );
  for (const o of observations) {
    const s = o.scene;
    const missed = s.faces.filter((f) => f.source.name && !o.found.includes(f.source.name));
    const wrong = o.found.filter((n) => !s.expected.includes(n));
    console.log(
      `  ${s.id.padEnd(9)} ${(s.condition ?? "").padEnd(15)} ${(s.backdropKind ?? "").slice(0, 34).padEnd(35)} ${String(s.crf ?? "").padStart(3)} ${String(o.frames.length).padStart(6)} ${`${(o.ms / 1000).toFixed(1)} s`.padStart(7)} ${String(Math.round(o.ms / Math.max(1, o.frames.length))).padStart(9)} ${`${o.found.length - wrong.length}/${s.expected.length}`.padStart(5)}  ${missed.map((f) => `${f.source.name}@${f.width}`).join(" ")}${wrong.length ? `  WRONG: ${wrong.join(" ")}` : ""}`,
    );
  }
  const ms = observations.reduce((sum, o) => sum + o.ms, 0);
  const frames = observations.reduce((sum, o) => sum + o.frames.length, 0);
  console.log(
    `time: ${(ms / 1000).toFixed(1)} s for ${rows.seconds} s of video (${(ms / 1000 / Math.max(1, observations.length)).toFixed(1)} s per scene, ${Math.round(ms / Math.max(1, frames))} ms per sampled frame)`,
  );
  return `${part.name} split named ${all.named}/${all.known}, ${right}/${rows.named} names right`;
}

/** The tuning split's sweep: the figures one may tune on (never the test split's). */
function sweepTuning(watched: Watched[], settings: EvalSetup["settings"]): void {
  console.log("\nsweep on the tuning split only:  threshold margin minFrames minFacePx   named/present  wrong names");
  for (const threshold of [0.45, 0.5, 0.55, 0.6])
    for (const minFrames of [1, 2])
      for (const minFacePx of [20, 24]) {
        const { all } = sceneRows(judge(watched, settings, { threshold, minFrames, minFacePx }));
        const margin = matchRules(settings, watched[0]?.gallery ?? emptyGallery(ENROLLED_MODEL)).margin;
        console.log(
          `${String(threshold).padStart(43)} ${String(margin).padStart(6)} ${String(minFrames).padStart(9)} ${String(minFacePx).padStart(9)} ${counts(all.named, all.known).padStart(15)} ${String(all.wrongNames).padStart(12)}`,
        );
      }
}

export async function evaluateClassroom(setup: EvalSetup, options: { scenes?: number } = {}): Promise<string> {
  const { data, settings, engine, work } = setup;
  // Each gallery photo enrolled once (its descriptors kept); a scene's gallery is its roster's photos.
  const enrolled = new Map<string, GalleryPerson>();
  const enrolls = async (name: string, file: string) => {
    const report = await enrollPhotos(engine, [{ name, file }]);
    const entry = report.gallery.people[0];
    if (entry) enrolled.set(file, entry);
    else console.log(`not enrolled (shown instead): ${file}: ${report.skipped[0]?.reason ?? "?"}`);
    return entry !== undefined;
  };
  const detect = (image: RgbImage) => engine.detect(image);
  const room = await composeClassroom(data, work, settings, { ...options, enrolls, detect });
  console.log(
    `\n# Classroom scenes (issue 22): people split by person, seed ${room.split.seed}; ${room.tuning.length + room.test.length} scenes composed in ${(room.composeMs / 1000).toFixed(0)} s`,
  );
  console.log(`backgrounds: ${room.backdrops.map((b) => `${b.kind} (${b.name})`).join(", ")}`);
  const galleryOf = (scene: SceneVideo) => {
    let gallery = emptyGallery(ENROLLED_MODEL, scene.id);
    for (const { name, photos } of scene.roster ?? [])
      for (const file of photos) {
        const entry = enrolled.get(file);
        if (entry) gallery = addPerson(gallery, name, entry.descriptors, [file], entry.smallFaceDescriptors ?? []);
      }
    return gallery;
  };
  const watch = async (scenes: SceneVideo[]) => {
    const watched: Watched[] = [];
    for (const scene of scenes) {
      const seen = await observeVideo(engine, scene.file, frameOptions(settings));
      watched.push({ scene, gallery: galleryOf(scene), ...seen });
      console.log(`  watched ${scene.id} in ${(seen.ms / 1000).toFixed(1)} s`);
    }
    return watched;
  };
  const tuning = await watch(room.tuning);
  const test = await watch(room.test);
  const lines = [reportPart(room.split.tuning, tuning, settings), reportPart(room.split.test, test, settings)];
  sweepTuning(tuning, settings);
  return lines.join("; ");
}
