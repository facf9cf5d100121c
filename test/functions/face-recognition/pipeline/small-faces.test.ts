// The small-face search: its geometry (pure), and on a real 1080p frame composed from the labeled
// photos, with the real models (also on stock face-api: vitest project "stock").
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type FaceEngine, loadFaceEngine, shrink } from "../../../../functions/face-recognition/pipeline/faces.js";
import { mergeBoxes, SMALL_FACE_SEARCH, tiles } from "../../../../functions/face-recognition/pipeline/small-faces.js";
import type { SpeedupSetting } from "../../../../functions/face-recognition/pipeline/speedups.js";
import {
  composeFrame,
  detects,
  facesAt,
  readPhoto,
  type Scene,
  type SourcePhoto,
} from "../../../../scripts/eval/scenes.js";
import { requireData } from "../../../support/data.js";

describe("tiles", () => {
  it("cover the frame, inside it, so that every face up to the overlap lies whole in one tile", () => {
    for (const [width, height, side, overlap] of [
      [1920, 1080, 277, 69],
      [1080, 1920, 277, 69],
      [640, 360, 416, 104],
      [300, 200, 416, 104],
    ] as const) {
      const regions = tiles(width, height, side, overlap);
      for (const r of regions) {
        expect(r.x).toBeGreaterThanOrEqual(0);
        expect(r.y).toBeGreaterThanOrEqual(0);
        expect(r.x + r.width).toBeLessThanOrEqual(width);
        expect(r.y + r.height).toBeLessThanOrEqual(height);
      }
      for (let x = 0; x + overlap <= width; x += 37)
        for (let y = 0; y + overlap <= height; y += 41) {
          const whole = regions.some(
            (r) => x >= r.x && y >= r.y && x + overlap <= r.x + r.width && y + overlap <= r.y + r.height,
          );
          expect(whole, `${width}x${height}: face at ${x},${y}`).toBe(true);
        }
    }
    // A 1080p frame at the default scale (1.5×): 9 × 5 tiles.
    expect(tiles(1920, 1080, 277, 69).length).toBe(45);
  });
});

describe("shrink", () => {
  it("averages the pixels each new pixel covers", () => {
    // 6×2 → 2×1: each new pixel is the mean of a 3×2 block.
    const rgb = Buffer.alloc(6 * 2 * 3);
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 6; x++) {
        const o = (y * 6 + x) * 3;
        rgb.set(x < 3 ? [x + 3 * y, 10, 20] : [90, 90, 90], o);
      }
    expect(shrink({ width: 6, height: 2, rgb }, 2)).toEqual({
      width: 2,
      height: 1,
      rgb: Buffer.from([Math.round((0 + 1 + 2 + 3 + 4 + 5) / 6), 10, 20, 90, 90, 90]),
    });
  });
});

describe("mergeBoxes", () => {
  it("keeps one box per face, the best scored, and drops a fragment cut by a tile's edge", () => {
    const face = { box: { x: 100, y: 100, width: 40, height: 48 }, score: 0.9 };
    const shifted = { box: { x: 104, y: 102, width: 40, height: 48 }, score: 0.7 };
    const fragment = { box: { x: 100, y: 100, width: 16, height: 30 }, score: 0.8 };
    const shoulders = { box: { x: 80, y: 90, width: 90, height: 100 }, score: 0.5 };
    const other = { box: { x: 150, y: 100, width: 40, height: 48 }, score: 0.6 };
    expect(mergeBoxes([shifted, other, face])).toEqual([face, other]);
    expect(mergeBoxes([fragment, shoulders, face])).toEqual([face]);
  });
});

const data = requireData();

describe.skipIf(!data)("the engine on a 1080p classroom-like frame", () => {
  const speedups = (process.env.FACE_SPEEDUPS ?? "auto") as SpeedupSetting;
  const base = { detector: "tiny", backend: "wasm", minDetectionScore: 0.4, tinyInputSize: 416, speedups } as const;
  let plain: FaceEngine;
  let searching: FaceEngine;
  let scene: Scene;

  beforeAll(async () => {
    plain = await loadFaceEngine({ ...base, detectWidth: 640 });
    searching = await loadFaceEngine({
      ...base,
      detectWidth: 640,
      smallFaces: { ...SMALL_FACE_SEARCH, tileScale: 1.5 },
    });
    const photo = async (name: string): Promise<SourcePhoto> => ({
      name,
      file: name,
      image: await readPhoto(join(data as string, "people", name, "1.png")),
      // Where SSD puts the face in these 150×150 crops, near enough to set the face's width.
      face: { x: 12, y: 0, width: 128, height: 150 },
    });
    const people = await Promise.all(["leonard", "penny", "raj", "sheldon"].map(photo));
    scene = {
      id: "classroom",
      case: "landscape",
      width: 1920,
      height: 1080,
      seed: 3,
      faces: people.map((source, i) => ({
        source,
        width: [40, 48, 64, 96][i] as number,
        x: 200 + 420 * i,
        y: 300 + 120 * i,
        vx: 0,
        vy: 0,
      })),
    };
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
