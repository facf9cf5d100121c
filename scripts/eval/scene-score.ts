// The eval's scenes scored: detection per face-frame (ground truth per frame) and names per scene, by
// face width, by case, by condition and by gallery size (photos enrolled of the person).
import type { Box } from "../../functions/face-recognition/pipeline/engine/types.js";
import { CONDITIONS } from "./conditions.js";
import { FACE_WIDTHS, facesAt, SCENE_CASES, SCENE_SECONDS, type SceneVideo } from "./scenes.js";

/** What the pipeline saw in one scene: its sampled frames' detections and the names it decided. */
export interface SceneObservation {
  scene: SceneVideo;
  frames: { timeMs: number; width: number; faces: { box: Box }[] }[];
  found: string[];
  ms: number;
}

export interface SceneRow {
  label: string;
  /** Face-frames whose face was detected, of those shown. */
  detected: number;
  shown: number;
  /** Known people named, of those shown (per scene). */
  named: number;
  known: number;
  /** Names given that were not in the scene. */
  wrongNames: number;
  /** Detections matching no face of the scene. */
  falseDetections: number;
}

/** A detection is the face's when its centre lies in the face's box and its width is within 2× of it. */
export function detects(detection: Box, face: Box): boolean {
  const cx = detection.x + detection.width / 2;
  const cy = detection.y + detection.height / 2;
  const ratio = detection.width / face.width;
  return (
    cx >= face.x && cx <= face.x + face.width && cy >= face.y && cy <= face.y + face.height && ratio > 0.5 && ratio < 2
  );
}

export interface SceneRows {
  byWidth: SceneRow[];
  byCase: SceneRow[];
  byCondition: SceneRow[];
  /** Known faces by the photos of them enrolled in their scene's gallery (classroom scenes). */
  byGallery: SceneRow[];
  all: SceneRow;
  /** Names given in all (right and wrong), and seconds of video scored. */
  named: number;
  seconds: number;
}

/**
 * Detection and identification by face width, case, condition and gallery size. Wrong names are
 * per scene (a name is not tied to a face), so width and gallery rows carry none.
 */
export function sceneRows(observations: SceneObservation[]): SceneRows {
  const row = (label: string): SceneRow => ({
    label,
    detected: 0,
    shown: 0,
    named: 0,
    known: 0,
    wrongNames: 0,
    falseDetections: 0,
  });
  const byWidth = new Map(FACE_WIDTHS.map((w) => [w as number, row(`${w} px`)]));
  const byCase = new Map(SCENE_CASES.map((c) => [c as string, row(c)]));
  const byCondition = new Map(CONDITIONS.map((c) => [c as string, row(c)]));
  const byGallery = new Map([1, 2].map((n) => [n, row(n === 1 ? "1 photo" : `${n} photos`)]));
  const all = row("all");
  let named = 0;
  let seconds = 0;
  for (const { scene, frames, found } of observations) {
    const condition = byCondition.get(scene.condition ?? "lit hall");
    const perScene = [byCase.get(scene.case), condition, all];
    const rows = (width: number) => [byWidth.get(width), ...perScene].filter((r) => r !== undefined);
    named += found.length;
    seconds += scene.seconds ?? SCENE_SECONDS;
    for (const frame of frames) {
      const scale = frame.width / scene.width;
      const shown = facesAt(scene, frame.timeMs / 1000).map(({ face, box }) => ({
        face,
        box: { x: box.x * scale, y: box.y * scale, width: box.width * scale, height: box.height * scale },
      }));
      for (const { face, box } of shown) {
        const hit = frame.faces.some((d) => detects(d.box, box));
        for (const r of rows(face.width)) {
          r.shown++;
          if (hit) r.detected++;
        }
      }
      const stray = frame.faces.filter((d) => !shown.some((s) => detects(d.box, s.box))).length;
      for (const r of perScene) if (r) r.falseDetections += stray;
    }
    for (const face of scene.faces) {
      const name = face.source.name;
      if (!name) continue;
      const photos = scene.roster?.find((p) => p.name === name)?.photos.length;
      for (const r of [...rows(face.width), photos === undefined ? undefined : byGallery.get(photos)]) {
        if (!r) continue;
        r.known++;
        if (found.includes(name)) r.named++;
      }
    }
    const wrong = found.filter((name) => !scene.expected.includes(name)).length;
    for (const r of perScene) if (r) r.wrongNames += wrong;
  }
  return {
    byWidth: [...byWidth.values()],
    byCase: [...byCase.values()],
    byCondition: [...byCondition.values()],
    byGallery: [...byGallery.values()],
    all,
    named,
    seconds,
  };
}
