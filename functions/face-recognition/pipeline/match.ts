// Stage 4: faces → matches. Nearest gallery person by euclidean distance, accepted only when it is
// close enough, clearly closer than the next person, and the face itself is good enough to judge.
// Across frames, a person counts only when seen in enough frames. A face that passes no rule is
// unknown; a frame without faces matches nobody (the original matched the first gallery entry).
import type { DetectedFace } from "./engine/types.js";

export interface MatchIndex {
  names: string[];
  /** Person index (into names) of each descriptor row. */
  labels: Int32Array;
  /** Rows of 128 floats. */
  descriptors: Float32Array;
  /** 1 for rows described from a small copy of a face (enroll.ts), compared with small faces only. */
  small?: Uint8Array;
}

export interface MatchRules {
  /** Largest distance accepted as the same person. */
  threshold: number;
  /** The second-nearest *other* person must be at least this much farther. */
  margin: number;
  /** Faces the detector is less sure of are ignored. */
  minScore: number;
  /** Faces smaller than this (shorter box side, in pixels of the sampled frame) are ignored. */
  minFacePx: number;
  /** A person must be matched in this many sampled frames (fewer when the video is shorter). */
  minFrames: number;
}

export type FaceVerdict =
  | { kind: "known"; name: string; distance: number; secondDistance: number }
  | { kind: "unknown"; distance: number; nearest?: string }
  | { kind: "ignored"; why: "low-score" | "too-small" };

const DIM = 128;

/**
 * Faces narrower than this (shorter box side, px of the sampled frame) are small: blurred like the
 * gallery's small copies (SMALL_COPY_WIDTHS), which a sharper face is never compared with.
 */
export const SMALL_FACE_PX = 64;

export function isSmallFace(face: Pick<DetectedFace, "box">): boolean {
  return Math.min(face.box.width, face.box.height) < SMALL_FACE_PX;
}

/**
 * A small face's descriptor is blurred: the right person lies farther from it than from a sharp one,
 * so a small face (or a track of them) is named up to this much past the threshold. Chosen on the
 * classroom eval's tuning split, kept where the bench's scenes name no stranger (docs/recognition.md).
 */
export const SMALL_FACE_SLACK = 0.05;

/** The largest distance accepted for a face (or a track) of this size. */
export function thresholdFor(rules: MatchRules, small: boolean): number {
  return small ? rules.threshold + SMALL_FACE_SLACK : rules.threshold;
}

/** Distance from a face's descriptor to the nearest descriptor of every person (small copies for small faces). */
export function distancesByPerson(index: MatchIndex, face: Pick<DetectedFace, "box" | "descriptor">): Float64Array {
  const { descriptor } = face;
  const withSmall = isSmallFace(face);
  const best = new Float64Array(index.names.length).fill(Number.POSITIVE_INFINITY);
  const rows = index.labels.length;
  for (let r = 0; r < rows; r++) {
    if (!withSmall && index.small?.[r] === 1) continue;
    let sum = 0;
    const offset = r * DIM;
    for (let i = 0; i < DIM; i++) {
      const d = (descriptor[i] as number) - (index.descriptors[offset + i] as number);
      sum += d * d;
    }
    const person = index.labels[r] as number;
    const distance = Math.sqrt(sum);
    if (distance < (best[person] as number)) best[person] = distance;
  }
  return best;
}

/** Whether the rules judge this face at all (sure enough, large enough). */
export function isJudged(face: Pick<DetectedFace, "box" | "score">, rules: MatchRules): boolean {
  return face.score >= rules.minScore && Math.min(face.box.width, face.box.height) >= rules.minFacePx;
}

export function judgeFace(index: MatchIndex, face: DetectedFace, rules: MatchRules): FaceVerdict {
  if (face.score < rules.minScore) return { kind: "ignored", why: "low-score" };
  if (Math.min(face.box.width, face.box.height) < rules.minFacePx) return { kind: "ignored", why: "too-small" };
  const distances = distancesByPerson(index, face);
  let first = -1;
  let second = -1;
  for (let p = 0; p < distances.length; p++) {
    const d = distances[p] as number;
    if (first < 0 || d < (distances[first] as number)) {
      second = first;
      first = p;
    } else if (second < 0 || d < (distances[second] as number)) {
      second = p;
    }
  }
  if (first < 0) return { kind: "unknown", distance: Number.POSITIVE_INFINITY };
  const distance = distances[first] as number;
  const secondDistance = second < 0 ? Number.POSITIVE_INFINITY : (distances[second] as number);
  const name = index.names[first] as string;
  if (distance <= thresholdFor(rules, isSmallFace(face)) && secondDistance - distance >= rules.margin) {
    return { kind: "known", name, distance, secondDistance };
  }
  return { kind: "unknown", distance, nearest: name };
}

export interface PersonSighting {
  name: string;
  firstSeenMs: number;
  lastSeenMs: number;
  frames: number;
  bestDistance: number;
}

/**
 * Collects verdicts frame by frame: who was matched in enough frames (`first` mode's answer;
 * `all` mode names people from their tracks, tracks.ts).
 */
export class SightingTally {
  private readonly people = new Map<string, PersonSighting>();
  private framesSeen = 0;

  constructor(private readonly rules: MatchRules) {}

  /** Records one sampled frame's verdicts (the same name twice in a frame counts once). */
  addFrame(timeMs: number, verdicts: FaceVerdict[]): void {
    this.framesSeen++;
    const namesInFrame = new Set<string>();
    verdicts.forEach((verdict) => {
      if (verdict.kind === "known") {
        if (namesInFrame.has(verdict.name)) return;
        namesInFrame.add(verdict.name);
        const seen = this.people.get(verdict.name);
        if (seen) {
          seen.lastSeenMs = timeMs;
          seen.frames++;
          seen.bestDistance = Math.min(seen.bestDistance, verdict.distance);
        } else {
          this.people.set(verdict.name, {
            name: verdict.name,
            firstSeenMs: timeMs,
            lastSeenMs: timeMs,
            frames: 1,
            bestDistance: verdict.distance,
          });
        }
      }
    });
  }

  get frames(): number {
    return this.framesSeen;
  }

  /** People confirmed in enough frames, in order of first appearance. */
  confirmed(): PersonSighting[] {
    const needed = Math.max(1, Math.min(this.rules.minFrames, this.framesSeen));
    return [...this.people.values()]
      .filter((p) => p.frames >= needed)
      .sort((a, b) => a.firstSeenMs - b.firstSeenMs || a.bestDistance - b.bestDistance);
  }

  allSightings(): PersonSighting[] {
    return [...this.people.values()];
  }
}

export function euclidean(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/**
 * Defaults by the model that made the gallery's descriptors, chosen with `npm run eval` on the
 * shared labeled data. face-api enrollments: 0.55 keeps precision at 100% (0.6 lets strangers in)
 * with the best recall. The original's dlib descriptors sit farther from face-api's, so that
 * gallery needs the original's 0.6 (at 0.55 floki, 0.55–0.58 away, is lost). Faces down to 24 px
 * and, in `all` mode, detector scores down to 0.4: the small faces the search confirms are scored
 * lower and boxed 24–34 px, yet named rightly, and the tracker's average over frames keeps strangers
 * out. `first` mode names from one frame, with no track to outvote a poor face: there a score under
 * 0.5 named a cartoon face in a no-face video.
 */
export function defaultRules(galleryModel: string, mode: "all" | "first"): MatchRules {
  const base = { margin: 0.05, minScore: mode === "first" ? 0.5 : 0.4, minFacePx: 24, minFrames: 2 };
  return galleryModel === "dlib-resnet" ? { ...base, threshold: 0.6 } : { ...base, threshold: 0.55 };
}
