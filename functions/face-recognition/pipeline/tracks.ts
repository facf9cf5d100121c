// Identity across frames: a face is linked to the track of the previous frames it overlaps (IoU)
// or looks like (descriptor distance), and a track is named from all its faces at once: the person
// nearest on average, within the match rules. One bad frame then neither names a stranger (its
// face is outvoted by the track's others) nor loses a person (the track carries it).
import type { Box, DetectedFace } from "./engine/types.js";
import { distancesByPerson, euclidean, type FaceVerdict, type MatchIndex, type MatchRules } from "./match.js";
import { iou } from "./engine/boxes.js";

/** Faces closer than this are the same person wherever they are (same-person median is 0.43). */
const SAME_FACE = 0.55;
/** Faces that overlap this much from one sampled frame to the next are the same person unless they look far apart. */
const SAME_PLACE_IOU = 0.3;
const SAME_PLACE_DISTANCE = 0.8;

interface Track {
  box: Box;
  descriptor: Float32Array;
  /** Indices of the sampled frames the track has a face in. */
  frames: number[];
  /** Sum over its judged faces of the distance to each gallery person. */
  distanceSums: Float64Array;
  judged: number;
  /** Per person, the smallest distance of one of its faces. */
  nearest: Float64Array;
}

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export interface TrackedPerson {
  name: string;
  /** Sampled frames the person's tracks have a face in. */
  frames: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Runs of consecutive sampled frames the person is seen in. */
  ranges: TimeRange[];
  /** The closest any one of their faces came to the gallery person. */
  bestDistance: number;
  /** Mean distance of the track's faces (the best of the person's tracks). */
  meanDistance: number;
}

export class Tracker {
  private readonly tracks: Track[] = [];
  private readonly times: number[] = [];

  constructor(
    private readonly index: MatchIndex,
    private readonly rules: MatchRules,
  ) {}

  /** Links one sampled frame's faces to the tracks; faces the rules ignore (too small, unsure) are left out. */
  addFrame(timeMs: number, faces: DetectedFace[], verdicts: FaceVerdict[]): void {
    const frame = this.times.length;
    this.times.push(timeMs);
    const judged = faces.filter((_, i) => verdicts[i]?.kind !== "ignored");
    const pairs: { track: Track; face: DetectedFace; cost: number }[] = [];
    for (const track of this.tracks)
      for (const face of judged) {
        const distance = euclidean(track.descriptor, face.descriptor);
        const overlap = iou(track.box, face.box);
        if (distance < SAME_FACE || (overlap > SAME_PLACE_IOU && distance < SAME_PLACE_DISTANCE))
          pairs.push({ track, face, cost: distance - overlap });
      }
    const linkedTracks = new Set<Track>();
    const linkedFaces = new Set<DetectedFace>();
    for (const { track, face } of pairs.sort((a, b) => a.cost - b.cost)) {
      if (linkedTracks.has(track) || linkedFaces.has(face)) continue;
      linkedTracks.add(track);
      linkedFaces.add(face);
      this.extend(track, face, frame);
    }
    for (const face of judged) if (!linkedFaces.has(face)) this.tracks.push(this.start(face, frame));
  }

  private start(face: DetectedFace, frame: number): Track {
    const people = this.index.names.length;
    const track: Track = {
      box: face.box,
      descriptor: face.descriptor,
      frames: [],
      distanceSums: new Float64Array(people),
      judged: 0,
      nearest: new Float64Array(people).fill(Number.POSITIVE_INFINITY),
    };
    this.extend(track, face, frame);
    return track;
  }

  private extend(track: Track, face: DetectedFace, frame: number): void {
    const distances = distancesByPerson(this.index, face);
    for (let p = 0; p < distances.length; p++) {
      track.distanceSums[p] = (track.distanceSums[p] as number) + (distances[p] as number);
      track.nearest[p] = Math.min(track.nearest[p] as number, distances[p] as number);
    }
    track.judged++;
    track.box = face.box;
    track.descriptor = face.descriptor;
    if (track.frames.at(-1) !== frame) track.frames.push(frame);
  }

  get frames(): number {
    return this.times.length;
  }

  /** A track's name: the person nearest on average over its faces, within the threshold and margin. */
  private nameOf(track: Track): { name: string; mean: number; person: number } | undefined {
    const needed = Math.max(1, Math.min(this.rules.minFrames, this.times.length));
    if (track.frames.length < needed) return undefined;
    const means = Array.from(track.distanceSums, (sum) => sum / track.judged);
    let first = -1;
    let second = -1;
    means.forEach((mean, p) => {
      if (first < 0 || mean < (means[first] as number)) {
        second = first;
        first = p;
      } else if (second < 0 || mean < (means[second] as number)) second = p;
    });
    if (first < 0) return undefined;
    const mean = means[first] as number;
    const next = second < 0 ? Number.POSITIVE_INFINITY : (means[second] as number);
    if (mean > this.rules.threshold || next - mean < this.rules.margin) return undefined;
    return { name: this.index.names[first] as string, mean, person: first };
  }

  /** The people named, each once (tracks with the same name merged), in order of first appearance. */
  people(): TrackedPerson[] {
    const byName = new Map<string, { frames: Set<number>; best: number; mean: number }>();
    for (const track of this.tracks) {
      const named = this.nameOf(track);
      if (!named) continue;
      const person = byName.get(named.name) ?? { frames: new Set<number>(), best: Infinity, mean: Infinity };
      for (const f of track.frames) person.frames.add(f);
      person.best = Math.min(person.best, track.nearest[named.person] as number);
      person.mean = Math.min(person.mean, named.mean);
      byName.set(named.name, person);
    }
    return [...byName]
      .map(([name, p]) => {
        const frames = [...p.frames].sort((a, b) => a - b);
        return {
          name,
          frames: frames.length,
          firstSeenMs: this.times[frames[0] as number] as number,
          lastSeenMs: this.times[frames.at(-1) as number] as number,
          ranges: this.ranges(frames),
          bestDistance: p.best,
          meanDistance: p.mean,
        };
      })
      .sort((a, b) => a.firstSeenMs - b.firstSeenMs || a.meanDistance - b.meanDistance);
  }

  /** Tracks no one is named for: the strangers (each counted once, however many frames they are in). */
  unknownTracks(): number {
    return this.tracks.filter((t) => !this.nameOf(t)).length;
  }

  private ranges(frames: number[]): TimeRange[] {
    const ranges: TimeRange[] = [];
    let start = frames[0] as number;
    frames.forEach((f, i) => {
      const next = frames[i + 1];
      if (next === f + 1) return;
      ranges.push({ fromMs: this.times[start] as number, toMs: this.times[f] as number });
      if (next !== undefined) start = next;
    });
    return ranges;
  }
}
