import { describe, expect, it } from "vitest";
import type { DetectedFace } from "../../../../functions/face-recognition/pipeline/faces.js";
import {
  defaultRules,
  judgeFace,
  type MatchIndex,
  type MatchRules,
  SightingTally,
  SMALL_FACE_PX,
} from "../../../../functions/face-recognition/pipeline/match.js";

// Descriptors along separate axes: distance between unit vectors e_i and e_j is √2.
function unit(axis: number, scale = 1): Float32Array {
  const d = new Float32Array(128);
  d[axis] = scale;
  return d;
}

function near(axis: number, offset: number): Float32Array {
  const d = unit(axis);
  d[127] = offset; // distance to e_axis is exactly `offset`
  return d;
}

const index: MatchIndex = {
  names: ["amy", "raj"],
  labels: Int32Array.from([0, 0, 1]),
  descriptors: Float32Array.from([...unit(0), ...unit(1), ...unit(2)]),
};
const rules: MatchRules = { threshold: 0.5, margin: 0.05, minScore: 0.5, minFacePx: 30, minFrames: 2 };
const face = (descriptor: Float32Array, score = 0.9, size = 100): DetectedFace => ({
  descriptor,
  score,
  box: { x: 0, y: 0, width: size, height: size },
});

describe("judgeFace", () => {
  it("accepts the nearest person within the threshold, using their closest descriptor", () => {
    const verdict = judgeFace(index, face(near(1, 0.3)), rules);
    expect(verdict).toMatchObject({ kind: "known", name: "amy" });
    expect(verdict.kind === "known" && verdict.distance).toBeCloseTo(0.3, 5);
  });

  it("calls a face beyond the threshold unknown, naming the nearest for diagnosis", () => {
    expect(judgeFace(index, face(near(2, 0.6)), rules)).toMatchObject({ kind: "unknown", nearest: "raj" });
  });

  it("calls a face unknown when the second person is not clearly farther", () => {
    const between = new Float32Array(128);
    between[0] = 0.7;
    between[2] = 0.7; // equidistant from amy's e0 and raj's e2
    const strict = { ...rules, threshold: 1 };
    expect(judgeFace(index, face(between), strict).kind).toBe("unknown");
    expect(judgeFace(index, face(between), { ...strict, margin: 0 }).kind).toBe("known");
  });

  it("ignores faces the detector is unsure of, and faces too small to judge", () => {
    expect(judgeFace(index, face(unit(0), 0.3), rules)).toEqual({ kind: "ignored", why: "low-score" });
    expect(judgeFace(index, face(unit(0), 0.9, 20), rules)).toEqual({ kind: "ignored", why: "too-small" });
  });

  it("compares small faces with the gallery's small-face copies too, larger faces with its photos only", () => {
    // amy's photo is far; her small copy (e5) is near the face.
    const withCopy: MatchIndex = {
      names: ["amy"],
      labels: Int32Array.from([0, 0]),
      descriptors: Float32Array.from([...unit(0), ...unit(5)]),
      small: Uint8Array.from([0, 1]),
    };
    const loose = { ...rules, minFacePx: 24 };
    expect(judgeFace(withCopy, face(near(5, 0.2), 0.9, SMALL_FACE_PX - 1), loose)).toMatchObject({ kind: "known" });
    expect(judgeFace(withCopy, face(near(5, 0.2), 0.9, SMALL_FACE_PX), loose)).toMatchObject({ kind: "unknown" });
  });

  it("never names anyone from an empty gallery", () => {
    const empty: MatchIndex = { names: [], labels: new Int32Array(0), descriptors: new Float32Array(0) };
    expect(judgeFace(empty, face(unit(0)), rules).kind).toBe("unknown");
  });
});

describe("SightingTally", () => {
  it("confirms people seen in enough frames, in order of first appearance", () => {
    const tally = new SightingTally(rules);
    const raj = face(near(2, 0.2));
    const amy = face(near(0, 0.1));
    tally.addFrame(0, [judgeFace(index, raj, rules)]);
    tally.addFrame(500, [judgeFace(index, raj, rules), judgeFace(index, amy, rules)]);
    tally.addFrame(1000, [judgeFace(index, amy, rules)]);
    const people = tally.confirmed();
    expect(people.map((p) => p.name)).toEqual(["raj", "amy"]);
    expect(people[1]).toMatchObject({ firstSeenMs: 500, lastSeenMs: 1000, frames: 2 });
  });

  it("drops a name matched in a single frame of many (a passing false match)", () => {
    const tally = new SightingTally(rules);
    const amy = face(near(0, 0.1));
    tally.addFrame(0, [judgeFace(index, amy, rules)]);
    tally.addFrame(500, []);
    tally.addFrame(1000, []);
    expect(tally.confirmed()).toEqual([]);
  });

  it("frames without faces identify nobody (the original matched the first entry)", () => {
    const tally = new SightingTally(rules);
    for (let t = 0; t < 5; t++) tally.addFrame(t * 500, []);
    expect(tally.confirmed()).toEqual([]);
  });
});

describe("defaultRules", () => {
  it("uses the original's 0.6 for dlib galleries and a stricter threshold for face-api enrollments", () => {
    expect(defaultRules("dlib-resnet", "all").threshold).toBe(0.6);
    expect(defaultRules("face-api-facerecognitionnet", "all").threshold).toBeLessThan(0.6);
  });

  it("keeps the stricter detection score in first mode, which names from a single frame", () => {
    expect(defaultRules("dlib-resnet", "first").minScore).toBe(0.5);
    expect(defaultRules("dlib-resnet", "all").minScore).toBeLessThan(0.5);
  });
});
