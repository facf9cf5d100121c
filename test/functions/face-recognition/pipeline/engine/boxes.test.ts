// Box geometry: tiles that cover a frame, and one box per face from overlapping passes.
import { describe, expect, it } from "vitest";
import { mergeBoxes, tiles } from "../../../../../functions/face-recognition/pipeline/engine/boxes.js";

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
