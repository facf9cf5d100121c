import { describe, expect, it } from "vitest";
import type { DetectedFace } from "../../../../functions/face-recognition/pipeline/faces.js";
import {
  judgeFace,
  type MatchIndex,
  type MatchRules,
  SightingTally,
} from "../../../../functions/face-recognition/pipeline/match.js";
import { Tracker } from "../../../../functions/face-recognition/pipeline/tracks.js";

// Descriptors on separate axes: e_i and e_j are √2 apart; blend(i, j, t) lies t·√2 from e_i.
function blend(i: number, j: number, t: number): Float32Array {
  const d = new Float32Array(128);
  d[i] = 1 - t;
  d[j] = t;
  return d;
}
function near(axis: number, offset: number): Float32Array {
  const d = new Float32Array(128);
  d[axis] = 1;
  d[127] = offset; // exactly `offset` from e_axis
  return d;
}

const index: MatchIndex = {
  names: ["amy", "raj"],
  labels: Int32Array.from([0, 1]),
  descriptors: Float32Array.from([...near(0, 0), ...near(2, 0)]),
};
const rules: MatchRules = { threshold: 0.5, margin: 0.05, minScore: 0.5, minFacePx: 30, minFrames: 2 };
const face = (descriptor: Float32Array, x = 100, size = 60): DetectedFace => ({
  descriptor,
  score: 0.9,
  box: { x, y: 100, width: size, height: size },
});

/** Feeds the same frames to a tracker and to the per-frame tally it replaces in `all` mode. */
function run(frames: DetectedFace[][]) {
  const tracker = new Tracker(index, rules);
  const tally = new SightingTally(rules);
  frames.forEach((faces, i) => {
    const verdicts = faces.map((f) => judgeFace(index, f, rules));
    tracker.addFrame(i * 500, faces);
    tally.addFrame(i * 500, verdicts);
  });
  return { tracker, tally };
}

describe("Tracker", () => {
  it("does not name a stranger whose face comes near a known person in two frames of five", () => {
    const stranger = blend(0, 50, 0.6); // 0.85 from amy: unknown
    const lookalike = blend(0, 50, 0.3); // 0.42 from amy: taken for her in that frame
    const { tracker, tally } = run(
      [[stranger], [lookalike], [stranger], [lookalike], [stranger]].map((f) => f.map((d) => face(d))),
    );
    expect(tally.confirmed().map((p) => p.name)).toEqual(["amy"]);
    expect(tracker.people()).toEqual([]);
    expect(tracker.unknownTracks()).toBe(1);
  });

  it("keeps a person through frames where their face alone is not recognised", () => {
    const clear = near(0, 0.1);
    const blurred = near(0, 0.6); // over the threshold, yet 0.5 from her other faces
    const { tracker, tally } = run([[clear], [blurred], [clear], [blurred], [clear]].map((f) => f.map((d) => face(d))));
    expect(tally.confirmed()[0]?.frames).toBe(3);
    expect(tracker.people()).toEqual([
      {
        name: "amy",
        frames: 5,
        firstSeenMs: 0,
        lastSeenMs: 2000,
        ranges: [{ fromMs: 0, toMs: 2000 }],
        bestDistance: expect.closeTo(0.1, 5),
        meanDistance: expect.closeTo(0.3, 5),
      },
    ]);
    expect(tracker.unknownTracks()).toBe(0);
  });

  it("reports the time ranges a person is seen in, across a gap and a move across the frame", () => {
    const amy = near(0, 0.1);
    const { tracker } = run([[face(amy, 100)], [face(amy, 120)], [], [face(amy, 900)], [face(amy, 920)]]);
    const [person] = tracker.people();
    expect(person?.ranges).toEqual([
      { fromMs: 0, toMs: 500 },
      { fromMs: 1500, toMs: 2000 },
    ]);
    expect(person?.frames).toBe(4);
  });

  it("tells apart people in the same frames, names each once, and counts each stranger once", () => {
    const amy = near(0, 0.1);
    const raj = near(2, 0.2);
    const strangerA = near(60, 0);
    const strangerB = near(70, 0);
    const frame = (t: number) => [
      face(raj, 400 + t),
      face(amy, 100 + t),
      face(strangerA, 700 + t),
      face(strangerB, 1000),
    ];
    const { tracker } = run([[face(amy, 100)], frame(10), frame(20), frame(30)]);
    expect(tracker.people().map((p) => [p.name, p.frames])).toEqual([
      ["amy", 4],
      ["raj", 3],
    ]);
    expect(tracker.unknownTracks()).toBe(2);
  });

  it("leaves out faces the rules ignore (too small to judge)", () => {
    const { tracker } = run([[face(near(0, 0.1), 100, 20)], [face(near(0, 0.1), 100, 20)]]);
    expect(tracker.people()).toEqual([]);
    expect(tracker.unknownTracks()).toBe(0);
  });

  it("starts a new track where a different person takes the same place, and names both in order", () => {
    // 0.71 apart: the old same-place rule (0.8) made one track of both, named for nobody.
    const first = blend(0, 2, 0.2); // 0.28 from amy
    const second = blend(0, 2, 0.7); // 0.42 from raj
    const { tracker } = run([[face(first)], [face(first)], [face(second)], [face(second)]]);
    expect(tracker.people().map((p) => [p.name, p.ranges])).toEqual([
      ["amy", [{ fromMs: 0, toMs: 500 }]],
      ["raj", [{ fromMs: 1000, toMs: 1500 }]],
    ]);
  });
});

describe("Tracker.unknownTracks", () => {
  const stranger = near(60, 0);
  const count = (frames: DetectedFace[][]) => run(frames).tracker.unknownTracks();

  it("counts a stranger seen surely, in enough frames, once", () => {
    expect(count([[face(stranger)], [face(stranger)], [face(stranger)]])).toBe(1);
  });

  it("does not count a box the detector was never sure of (an emblem, a poster), nor one seen in one frame", () => {
    const unsure = { ...face(stranger), score: 0.6 };
    expect(count([[unsure], [unsure], [unsure]])).toBe(0);
    expect(count([[face(stranger)], [], []])).toBe(0);
  });
});

describe("Tracker.plan (which faces are described)", () => {
  /** Frames of faces fed as recognizeVideo feeds them: only the faces planned are described. */
  function planned(frames: DetectedFace[][]) {
    const tracker = new Tracker(index, rules);
    const described = frames.map((faces, i) => {
      const wanted = tracker.plan(faces);
      tracker.addFrame(
        i * 500,
        faces.map((f, j) => (wanted[j] ? f : { box: f.box, score: f.score })),
      );
      return wanted;
    });
    return { tracker, described };
  }

  it("describes a track until its name is settled, then every other frame, and keeps every frame in its time range", () => {
    const amy = near(0, 0.1);
    const { tracker, described } = planned(Array.from({ length: 8 }, (_, i) => [face(amy, 100 + i)]));
    expect(described.map((d) => d[0])).toEqual([true, true, true, false, true, false, true, false]);
    expect(tracker.people().map((p) => [p.name, p.frames, p.ranges])).toEqual([
      ["amy", 8, [{ fromMs: 0, toMs: 3500 }]],
    ]);
  });

  it("describes a settled track's face when it is seen larger, and a face at a new place at once", () => {
    const amy = near(0, 0.1);
    const frames = [0, 1, 2].map(() => [face(amy)]);
    const { described } = planned([...frames, [face(amy, 100, 80)], [face(amy, 100, 80), face(near(2, 0.1), 600)]]);
    expect(described.slice(3)).toEqual([[true], [false, true]]);
  });

  it("never describes a face the rules ignore", () => {
    const { described } = planned([[face(near(0, 0.1), 100, 20)]]);
    expect(described).toEqual([[false]]);
  });

  it("notices another person at a settled track's place at the next check, and names both", () => {
    const first = blend(0, 2, 0.2);
    const second = blend(0, 2, 0.7);
    const frames = [...Array(4).fill([face(first)]), ...Array(4).fill([face(second)])] as DetectedFace[][];
    const { tracker } = planned(frames);
    const people = tracker.people();
    expect(people.map((p) => p.name)).toEqual(["amy", "raj"]);
    // The swap at 2000 ms is seen at the next check, one frame later at most.
    expect(people[1]?.firstSeenMs).toBeLessThanOrEqual(2500);
  });
});
