import { beforeAll, describe, expect, it } from "vitest";
import { type FaceEngine, loadFaceEngine } from "../../../../functions/face-recognition/pipeline/faces.js";
import {
  type Passes,
  SearchScope,
  SMALL_FACE_SEARCH,
  searchSmallFaces,
} from "../../../../functions/face-recognition/pipeline/small-faces.js";
import { detects } from "../../../../scripts/eval/scene-score.js";
import { composeFrame } from "../../../../scripts/eval/scene-video.js";
import { facesAt, type Scene } from "../../../../scripts/eval/scenes.js";
import { photoRowScene } from "../../../support/photo-row.js";
import { requireData } from "../../../support/data.js";
import { testEngineOptions } from "../../../support/engine.js";

describe("SearchScope", () => {
  const face = (x: number) => ({
    box: { x, y: 100, width: 30, height: 36 },
    score: 0.9,
    descriptor: new Float32Array(128),
  });

  it("searches the whole frame every n-th frame, and in between only near the last two frames' faces", () => {
    const scope = new SearchScope(3);
    expect(scope.next()).toBeUndefined();
    scope.saw([face(100), face(500)]);
    expect(scope.next()).toEqual([face(100).box, face(500).box]);
    // The face at 500 is missed in this frame: it is still looked for in the next, once.
    scope.saw([face(104)]);
    expect(scope.next()).toEqual([face(104).box, face(500).box]);
    scope.saw([]);
    expect(scope.next()).toBeUndefined();
    scope.saw([]);
    // Nothing seen lately: no search at all until the next whole frame.
    expect(scope.next()).toEqual([]);
  });
});

describe("the search's tilings", () => {
  // Stand-ins for the tensors: only shapes and the detector's calls matter here.
  const tensor = (shape: number[]) => ({ shape, dispose: () => undefined });
  const searched = async (width: number, height: number) => {
    const regions: number[][] = [];
    const passes = {
      tf: {
        tidy: <T>(make: () => T) => make(),
        slice: (_input: unknown, begin: number[], size: number[]) => tensor([...begin, ...size]),
        image: {
          resizeBilinear: (t: { shape: number[] }) => {
            regions.push(t.shape);
            return t;
          },
        },
      },
      locate: async () => [],
      toTensor: () => tensor([height, width, 3]),
    } as unknown as Passes;
    const image = { width, height, rgb: Buffer.alloc(0) };
    await searchSmallFaces(passes, image, [], { ...SMALL_FACE_SEARCH, tileScale: 1.5, detector: "tiny" });
    return regions;
  };

  it("searches a frame smaller than both tiles once, not once per tiling", async () => {
    expect(await searched(64, 64)).toEqual([[0, 0, 0, 64, 64, 3]]);
  });

  it("tiles a 1080p frame twice, at both scales, each tile once", async () => {
    const regions = await searched(1920, 1080);
    const sides = new Set(regions.map((r) => r[3]));
    expect(sides).toEqual(new Set([277, 208]));
    expect(new Set(regions.map((r) => r.join())).size).toBe(regions.length);
  });
});

describe("a close-up in the first pass", () => {
  // Stand-ins: BlazeFace's two looks are counted; its second look confirms the close-up or not.
  const run = async (confirmed: boolean) => {
    const calls = { locate: 0, lookAround: 0 };
    const blazeFace = {
      locate: async () => {
        calls.locate++;
        return [];
      },
      lookAround: async (_: unknown, boxes: unknown[]) => {
        calls.lookAround++;
        return boxes.map(() => (confirmed ? { box: closeUp, score: 0.9 } : undefined));
      },
    };
    const passes = { tf: {}, blazeFace, toTensor: () => ({ dispose: () => undefined }) } as unknown as Passes;
    const image = { width: 1920, height: 1080, rgb: Buffer.alloc(0) };
    const search = { ...SMALL_FACE_SEARCH, tileScale: 1.5, detector: "blazeface" as const };
    await searchSmallFaces(passes, image, [{ box: closeUp, score: 0.5 }], search);
    return calls;
  };
  const closeUp = { x: 700, y: 200, width: 400, height: 400 };

  it("switches the search off when BlazeFace sees a face there too", async () => {
    expect(await run(true)).toEqual({ locate: 0, lookAround: 1 });
  });

  it("does not when BlazeFace sees none (a false or oversized box): the frame is searched", async () => {
    expect(await run(false)).toEqual({ locate: 1, lookAround: 2 });
  });
});

const data = requireData();

describe.skipIf(!data)("the engine on a 1080p classroom-like frame", () => {
  let plain: FaceEngine;
  let searching: FaceEngine;
  let scene: Scene;

  beforeAll(async () => {
    plain = await loadFaceEngine(testEngineOptions({ smallFaces: undefined }));
    searching = await loadFaceEngine(testEngineOptions());
    scene = await photoRowScene(
      data as string,
      [
        { name: "leonard", width: 40 },
        { name: "penny", width: 48 },
        { name: "raj", width: 64 },
        { name: "sheldon", width: 96 },
      ],
      { x: 200, y: 300, dx: 420, dy: 120 },
    );
  });

  const frame = () => ({ width: 1920, height: 1080, rgb: composeFrame(scene, 0) });

  it("finds the 40–96 px faces the full-frame pass misses, with descriptors, and nothing else", async () => {
    const shown = facesAt(scene, 0).map((f) => f.box);
    expect(await plain.detect(frame())).toEqual([]);
    const before = searching.tensorCount();
    const found = await searching.detect(frame());
    expect(searching.tensorCount()).toBe(before);
    const hits = shown.filter((box) => found.some((f) => detects(f.box, box)));
    expect(hits.length).toBeGreaterThanOrEqual(3);
    expect(found.length).toBe(hits.length);
    for (const f of found) expect(f.descriptor).toHaveLength(128);
  });

  it("looks only near the boxes it is given, when given some", async () => {
    const shown = facesAt(scene, 0).map((f) => f.box);
    const near = await searching.detect(frame(), { near: shown.slice(0, 2) });
    expect(near.length).toBeGreaterThanOrEqual(1);
    for (const f of near) expect(shown.slice(0, 2).some((box) => detects(f.box, box))).toBe(true);
    // Near nothing: the first pass alone, which finds none of these faces (the whole search finds 3 or more).
    expect(await searching.detect(frame(), { near: [] })).toEqual([]);
  });

  it("skips the search when the full-frame pass already answers, or shows a close-up", async () => {
    const started = performance.now();
    expect(await searching.detect(frame(), { enough: () => true })).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
    const closeUp = {
      ...scene,
      faces: [{ ...(scene.faces[3] as Scene["faces"][number]), width: 400, x: 700, y: 200 }],
    };
    const image = { width: 1920, height: 1080, rgb: composeFrame(closeUp, 0) };
    const full = await plain.detect(image);
    expect(full).toHaveLength(1);
    expect((await searching.detect(image)).map((f) => f.box)).toEqual(full.map((f) => f.box));
  });
});
