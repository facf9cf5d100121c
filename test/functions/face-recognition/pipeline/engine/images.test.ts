// Scaling an RGB image by area averaging.
import { describe, expect, it } from "vitest";
import { shrink } from "../../../../../functions/face-recognition/pipeline/engine/images.js";

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
