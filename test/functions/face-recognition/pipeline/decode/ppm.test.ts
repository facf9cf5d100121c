import { describe, expect, it } from "vitest";
import { PpmReader } from "../../../../../functions/face-recognition/pipeline/decode/ppm.js";

describe("PpmReader", () => {
  it("cuts frames out of a stream whatever the chunk boundaries", () => {
    const frame = (w: number, h: number, fill: number) =>
      Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`), Buffer.alloc(w * h * 3, fill)]);
    const stream = Buffer.concat([frame(4, 2, 1), frame(2, 3, 2)]);
    for (const size of [1, 5, 7, 100]) {
      const reader = new PpmReader();
      const out = [];
      for (let i = 0; i < stream.length; i += size) out.push(...reader.push(stream.subarray(i, i + size)));
      expect(out.map((f) => [f.width, f.height, f.rgb.length, f.rgb[0]])).toEqual([
        [4, 2, 24, 1],
        [2, 3, 18, 2],
      ]);
      expect(reader.pendingBytes).toBe(0);
    }
  });

  it("refuses a stream that is not PPM", () => {
    expect(() => new PpmReader().push(Buffer.from("GIF89a"))).toThrow("ffmpeg produced a frame that is not PPM");
  });
});
