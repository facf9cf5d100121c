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
  let mark = performance.now();
  for await (const frame of frames) {
    const decoded = performance.now();
    decodeMs += decoded - mark;
    // `first`: a known face in the full-frame pass answers; the small-face search is not needed.
    // `all`: the search covers the whole frame only now and then (SearchScope).
    const faces = await engine.detect(
      frame,
      options.mode === "first"
        ? { enough: (found) => found.some((face) => judgeFace(index, face, options.rules).kind === "known") }
        : { near: scope?.next() },
    );
    scope?.saw(faces);
    const verdicts = faces.map((face) => judgeFace(index, face, options.rules));
    tally.addFrame(frame.timeMs, verdicts);
    tracker.addFrame(frame.timeMs, faces, verdicts);
    mark = performance.now();
    inferenceMs += mark - decoded;
    // `first`: the original behaviour — the first confident identification answers; ffmpeg is killed.
    if (options.mode === "first" && verdicts.some((v) => v.kind === "known")) break;
  }
  // A container with no decodable frame (truncated, empty track) is not a video with nobody in it.
  if (tally.frames === 0) throw new VideoError("no frame of the video could be decoded");
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
    framesExamined: tally.frames,
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
