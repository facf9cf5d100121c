// Stages 2–4 on one local video file: frames → faces → matches, with per-stage timings.
import { VideoError } from "./errors.js";
import type { FaceEngine } from "./faces.js";
import { type FrameOptions, readFrames } from "./decode/decoder.js";
import { judgeFace, type MatchIndex, type MatchRules, type PersonSighting, SightingTally } from "./match.js";
import { SearchScope } from "./small-faces.js";
import { type TimeRange, Tracker } from "./tracks.js";

export type Mode = "all" | "first";

export interface RecognizeOptions {
  mode: Mode;
  frames: FrameOptions;
  rules: MatchRules;
  /** Aborted when the result is no longer wanted: decoding stops at once, and the reason is thrown. */
  signal?: AbortSignal;
}

export interface Recognition {
  people: (PersonSighting & { ranges: TimeRange[] })[];
  /** Strangers: faces tracked across frames and named for no one, each counted once. */
  unknownFaces: number;
  framesExamined: number;
  /** Faces found in the sampled frames, and how many of them were described (`all` mode's budget). */
  faces: { located: number; described: number };
  backend: string;
  timingsMs: { decode: number; inference: number };
}

export async function recognizeVideo(
  file: string,
  engine: FaceEngine,
  index: MatchIndex,
  options: RecognizeOptions,
): Promise<Recognition> {
  const tally = new SightingTally(options.rules);
  const tracker = new Tracker(index, options.rules);
  let decodeMs = 0;
  let inferenceMs = 0;
  // `first` mode usually stops early: frames decoded ahead would mostly be thrown away.
  const frames = readFrames(file, options.frames, { onDemand: options.mode === "first", signal: options.signal });
  const scope =
    options.mode === "all" && engine.smallFaces ? new SearchScope(engine.smallFaces.wholeFrameEvery) : undefined;
  const faceCounts = { located: 0, described: 0 };
  let framesExamined = 0;
  let mark = performance.now();
  for await (const frame of frames) {
    const decoded = performance.now();
    decodeMs += decoded - mark;
    framesExamined++;
    if (options.mode === "first") {
      // A known face in the full-frame pass answers; the small-face search is not needed. The first
      // confident identification answers, as in the original; ffmpeg is killed.
      const faces = await engine.detect(frame, {
        enough: (found) => found.some((face) => judgeFace(index, face, options.rules).kind === "known"),
      });
      const verdicts = faces.map((face) => judgeFace(index, face, options.rules));
      tally.addFrame(frame.timeMs, verdicts);
      faceCounts.located += faces.length;
      faceCounts.described += faces.length;
      inferenceMs += performance.now() - decoded;
      if (verdicts.some((v) => v.kind === "known")) break;
    } else {
      // The search covers the whole frame only now and then (SearchScope); faces are described only
      // where the tracker needs it (Tracker.plan).
      const located = await engine.locate(frame, { near: scope?.next(), besideCloseUps: true });
      scope?.saw(located);
      const wanted = tracker.plan(located);
      const described = await engine.describe(
        frame,
        located.filter((_, i) => wanted[i]),
      );
      tracker.addFrame(frame.timeMs, [...described, ...located.filter((_, i) => !wanted[i])]);
      faceCounts.located += located.length;
      faceCounts.described += described.length;
      inferenceMs += performance.now() - decoded;
    }
    mark = performance.now();
  }
  // A container with no decodable frame (truncated, empty track) is not a video with nobody in it.
  if (framesExamined === 0) throw new VideoError("no frame of the video could be decoded");
  // `all`: each person named once from their tracks; `first`: the frame that answered decides.
  const people =
    options.mode === "first"
      ? firstKnown(tally, tally.confirmed()).map((p) => ({
          ...p,
          ranges: [{ fromMs: p.firstSeenMs, toMs: p.lastSeenMs }],
        }))
      : tracker.people();
  return {
    people,
    unknownFaces: tracker.unknownTracks(),
    framesExamined,
    faces: faceCounts,
    backend: engine.backend,
    timingsMs: { decode: Math.round(decodeMs), inference: Math.round(inferenceMs) },
  };
}

/** In `first` mode one frame decides, so the agreement rule cannot apply: take its best match. */
function firstKnown(tally: SightingTally, confirmed: PersonSighting[]): PersonSighting[] {
  if (confirmed.length > 0) return confirmed.slice(0, 1);
  const all = tally.allSightings().sort((a, b) => a.bestDistance - b.bestDistance);
  return all.slice(0, 1);
}
