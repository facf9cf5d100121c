// Identity across frames: a face is linked to the track of the previous frames it overlaps (IoU)
// and still looks like, or to any track it looks very like (descriptor distance to the track's mean),
// and a track is named from all its described faces at once: the person nearest on average, within
// the match rules. One bad frame then neither names a stranger (its face is outvoted by the track's
// others) nor loses a person (the track carries it). A face that stops looking like its track starts
// a new one: three people shown one after another at one place are three tracks.
// Describing a face is the dear part: a track's faces are described until its name is settled
// (`plan`), then only now and then, to notice a different person at the same place.
import { iou } from "./engine/boxes.js";
import type { Box, LocatedFace } from "./engine/types.js";
import {
  distancesByPerson,
  euclidean,
  isJudged,
  type MatchIndex,
  type MatchRules,
  SMALL_FACE_PX,
  thresholdFor,
} from "./match.js";

/** Faces closer than this to a track's mean are the same person wherever they are (same-person median is 0.43). */
const SAME_FACE = 0.4;
/** Faces that overlap a recent track this much are its person, unless they look farther from it than this. */
const SAME_PLACE_IOU = 0.3;
const SAME_PLACE_DISTANCE = 0.6;
/** A track is followed by place across at most this many sampled frames without a face. */
const RECENT_FRAMES = 2;
/** Descriptions a track gets before its name can be settled, and at most while it is not. */
const SETTLE_DESCRIPTIONS = 3;
const MAX_DESCRIPTIONS = 8;
/** A settled track's face is described again after this many sampled frames (to notice another person there). */
const RECHECK_FRAMES = 2;
/** A face this much wider than a track's widest described face is described: it shows the person better. */
const WIDER = 1.25;
/** A track counts as an unknown person only when one of its faces had a detector score this high. */
const SURE_FACE = 0.7;

/** A face as the tracker takes it: described, or located only (then followed by place). */
export interface TrackedFace extends LocatedFace {
  descriptor?: Float32Array;
}

interface Track {
  box: Box;
  /** Sum of its described faces' descriptors: the mean is what the track looks like. */
  descriptorSum: Float32Array;
  /** Indices of the sampled frames the track has a face in. */
  frames: number[];
  /** Sum over its described faces of the distance to each gallery person. */
  distanceSums: Float64Array;
  described: number;
  lastDescribed: number;
  widestDescribed: number;
  /** Per person, the smallest distance of one of its faces. */
  nearest: Float64Array;
  /** The highest detector score of its faces. */
  bestScore: number;
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

  /**
   * Which of the next frame's faces need describing: a face that continues no recent track by
   * place, or whose track is not settled, is due for a check, or is seen better now.
   */
  plan(faces: LocatedFace[]): boolean[] {
    const frame = this.times.length;
    const byPlace = this.link(
      faces.map((face) => ({ ...face, descriptor: undefined })),
      frame,
    );
    return faces.map((face, i) => {
      if (!isJudged(face, this.rules)) return false;
      const track = byPlace.get(i);
      return (
        !track ||
        !this.settled(track) ||
        frame - track.lastDescribed >= RECHECK_FRAMES ||
        face.box.width >= WIDER * track.widestDescribed
      );
    });
  }

  /** Links one sampled frame's faces to the tracks; faces the rules ignore (too small, unsure) are left out. */
  addFrame(timeMs: number, faces: TrackedFace[]): void {
    const frame = this.times.length;
    this.times.push(timeMs);
    const judged = faces.filter((face) => isJudged(face, this.rules));
    const links = this.link(judged, frame);
    judged.forEach((face, i) => {
      const track = links.get(i);
      if (track) this.extend(track, face, frame);
      // A face no track takes starts one when it can be named; one located only is left out.
      else if (face.descriptor) this.tracks.push(this.start({ ...face, descriptor: face.descriptor }, frame));
    });
  }

  /** Each face's track (greedy, most alike first): by look where described, else by place alone. */
  private link(faces: TrackedFace[], frame: number): Map<number, Track> {
    const pairs: { track: Track; face: number; cost: number }[] = [];
    for (const track of this.tracks) {
      const recent = frame - (track.frames.at(-1) as number) <= RECENT_FRAMES;
      faces.forEach((face, i) => {
        const overlap = recent ? iou(track.box, face.box) : 0;
        if (!face.descriptor) {
          if (overlap > SAME_PLACE_IOU) pairs.push({ track, face: i, cost: 1 - overlap });
          return;
        }
        const distance = euclidean(this.look(track), face.descriptor);
        if (distance < SAME_FACE || (overlap > SAME_PLACE_IOU && distance < SAME_PLACE_DISTANCE))
          pairs.push({ track, face: i, cost: distance - overlap });
      });
    }
    const links = new Map<number, Track>();
    const taken = new Set<Track>();
    for (const { track, face } of pairs.sort((a, b) => a.cost - b.cost)) {
      if (taken.has(track) || links.has(face)) continue;
      taken.add(track);
      links.set(face, track);
    }
    return links;
  }

  private look(track: Track): Float32Array {
    return track.descriptorSum.map((v) => v / track.described);
  }

  private settled(track: Track): boolean {
    if (track.described >= MAX_DESCRIPTIONS) return true;
    if (track.described < SETTLE_DESCRIPTIONS) return false;
    return this.nameOf(track) !== undefined || this.clearlyUnknown(track);
  }

  private clearlyUnknown(track: Track): boolean {
    const best = Math.min(...Array.from(track.distanceSums, (sum) => sum / track.described));
    return best > thresholdFor(this.rules, isSmallTrack(track)) + 0.1;
  }

  private start(face: TrackedFace & { descriptor: Float32Array }, frame: number): Track {
    const people = this.index.names.length;
    const track: Track = {
      box: face.box,
      descriptorSum: new Float32Array(face.descriptor.length),
      frames: [],
      distanceSums: new Float64Array(people),
      described: 0,
      lastDescribed: frame,
      widestDescribed: 0,
      nearest: new Float64Array(people).fill(Number.POSITIVE_INFINITY),
      bestScore: 0,
    };
    this.extend(track, face, frame);
    return track;
  }

  private extend(track: Track, face: TrackedFace, frame: number): void {
    track.box = face.box;
    track.bestScore = Math.max(track.bestScore, face.score);
    if (track.frames.at(-1) !== frame) track.frames.push(frame);
    if (!face.descriptor) return;
    const distances = distancesByPerson(this.index, { box: face.box, descriptor: face.descriptor });
    for (let p = 0; p < distances.length; p++) {
      track.distanceSums[p] = (track.distanceSums[p] as number) + (distances[p] as number);
      track.nearest[p] = Math.min(track.nearest[p] as number, distances[p] as number);
    }
    face.descriptor.forEach((v, i) => {
      track.descriptorSum[i] = (track.descriptorSum[i] as number) + v;
    });
    track.described++;
    track.lastDescribed = frame;
    track.widestDescribed = Math.max(track.widestDescribed, face.box.width);
  }

  get frames(): number {
    return this.times.length;
  }

  /** A track's name: the person nearest on average over its faces, within the threshold and margin. */
  private nameOf(track: Track): { name: string; mean: number; person: number } | undefined {
    const needed = Math.max(1, Math.min(this.rules.minFrames, this.times.length));
    if (track.frames.length < needed) return undefined;
    const means = Array.from(track.distanceSums, (sum) => sum / track.described);
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
    if (mean > thresholdFor(this.rules, isSmallTrack(track)) || next - mean < this.rules.margin) return undefined;
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

  /**
   * Tracks no one is named for: the strangers (each counted once, however many frames they are in).
   * Only a face seen in enough frames and surely a face counts: the search's weaker boxes (an emblem,
   * a poster) are described, never named, and not reported as people.
   */
  unknownTracks(): number {
    const needed = Math.max(1, Math.min(this.rules.minFrames, this.times.length));
    return this.tracks.filter((t) => !this.nameOf(t) && t.frames.length >= needed && t.bestScore >= SURE_FACE).length;
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

/** A track of small faces only: none of its described faces was as wide as a sharp one. */
function isSmallTrack(track: Track): boolean {
  return track.widestDescribed < SMALL_FACE_PX;
}
