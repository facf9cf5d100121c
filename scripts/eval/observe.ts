// What the eval scripts share: their start (data, settings, engine, a temporary folder), a video's
// frames through the engine and the tracker as recognizeVideo's `all` mode runs them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RecognitionSettings, readRecognitionSettings } from "../../functions/face-recognition/config.js";
import { type FrameOptions, readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import type { DetectedFace, FaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import type { MatchIndex, MatchRules } from "../../functions/face-recognition/pipeline/match.js";
import { SearchScope } from "../../functions/face-recognition/pipeline/small-faces.js";
import { Tracker } from "../../functions/face-recognition/pipeline/tracks.js";
import { startEngine } from "../../functions/face-recognition/runtime.js";
import { readSettings } from "../../lib/config.js";
import { DATA_ENV, dataDir } from "../../lib/shared-data.js";

export interface EvalSetup {
  data: string;
  settings: RecognitionSettings;
  engine: FaceEngine;
  /** A temporary folder, removed when `use` is done. */
  work: string;
}

export async function withEvalSetup(name: string, use: (setup: EvalSetup) => Promise<void>): Promise<void> {
  const data = dataDir();
  if (!data) throw new Error(`no labeled data: set ${DATA_ENV} to the shared data folder`);
  const settings = readSettings(process.env, readRecognitionSettings);
  const engine = await startEngine(settings);
  const work = await mkdtemp(join(tmpdir(), `facerec-${name}-`));
  try {
    await use({ data, settings, engine, work });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface ObservedFrame {
  timeMs: number;
  width: number;
  faces: DetectedFace[];
}

/**
 * A video's sampled frames through the engine, the small-face search scoped as in `all` mode
 * (SearchScope; `wholeFrameEvery` instead of the engine's, to study it); `ms`: decode and inference.
 */
export async function observeVideo(
  engine: FaceEngine,
  file: string,
  options: FrameOptions,
  wholeFrameEvery = engine.smallFaces?.wholeFrameEvery ?? 1,
): Promise<{ frames: ObservedFrame[]; ms: number }> {
  const frames: ObservedFrame[] = [];
  const started = performance.now();
  const scope = engine.smallFaces && new SearchScope(wholeFrameEvery);
  for await (const frame of readFrames(file, options)) {
    // Every face described, as `all` mode would describe it: the tracker's budget is replayed offline.
    const located = await engine.locate(frame, { near: scope?.next(), besideCloseUps: true });
    scope?.saw(located);
    frames.push({ timeMs: frame.timeMs, width: frame.width, faces: await engine.describe(frame, located) });
  }
  return { frames, ms: performance.now() - started };
}

/**
 * As recognizeVideo in `all` mode: faces tracked across frames, each track named from its faces,
 * only the faces the tracker asks for described (the others keep their boxes alone).
 */
export function trackFrames(index: MatchIndex, rules: MatchRules, frames: Omit<ObservedFrame, "width">[]): Tracker {
  const tracker = new Tracker(index, rules);
  for (const f of frames) {
    const wanted = tracker.plan(f.faces);
    tracker.addFrame(
      f.timeMs,
      f.faces.map((face, i) => (wanted[i] ? face : { box: face.box, score: face.score })),
    );
  }
  return tracker;
}
