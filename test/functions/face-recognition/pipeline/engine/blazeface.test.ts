import type * as tfjs from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BLAZEFACE_LOCATE,
  type FaceLocator,
  loadBlazeFace,
  squareTiles,
  suppress,
} from "../../../../../functions/face-recognition/pipeline/engine/blazeface.js";
import { iou } from "../../../../../functions/face-recognition/pipeline/engine/boxes.js";
import { startFaceApi } from "../../../../../functions/face-recognition/pipeline/engine/face-api.js";
import type { Box } from "../../../../../functions/face-recognition/pipeline/engine/types.js";
import { composeFrame } from "../../../../../scripts/eval/scene-video.js";
import { facesAt, type Scene } from "../../../../../scripts/eval/scenes.js";
import { photoRowScene } from "../../../../support/photo-row.js";
import { requireData } from "../../../../support/data.js";

describe("suppress", () => {
  it("keeps the best of overlapping boxes and drops an off-centre duplicate inside one", () => {
    const box = (x: number, y: number, side: number) => ({ x, y, width: side, height: side });
    const kept = suppress([
      { box: box(453, 326, 20), score: 0.32 },
      { box: box(444, 316, 24), score: 0.55 },
      { box: box(445, 317, 24), score: 0.5 },
      { box: box(600, 316, 24), score: 0.4 },
    ]);
    expect(kept.map((k) => k.score)).toEqual([0.55, 0.4]);
  });
});

describe("squareTiles", () => {
  it("covers the frame with square tiles overlapping by the share asked", () => {
    const tiles = squareTiles(1920, 1080, 480, 0.3);
    for (const t of tiles) expect(t.width).toBe(480);
    expect(Math.min(...tiles.map((t) => t.x))).toBe(0);
    expect(Math.max(...tiles.map((t) => t.x + t.width))).toBe(1920);
    expect(Math.max(...tiles.map((t) => t.y + t.height))).toBe(1080);
    const xs = [...new Set(tiles.map((t) => t.x))].sort((a, b) => a - b);
    for (let i = 1; i < xs.length; i++)
      expect((xs[i - 1] as number) + 480 - (xs[i] as number)).toBeGreaterThanOrEqual(144);
  });

  it("centres one padded tile on an axis shorter than the side", () => {
    expect(squareTiles(1920, 1080, 1920, 0.3)).toEqual([{ x: 0, y: -420, width: 1920, height: 1920 }]);
  });
});

const data = requireData();

/** A box on the face: overlapping it, or holding its centre at a size within 2×. */
function finds(found: Box, face: Box): boolean {
  const cx = face.x + face.width / 2;
  const cy = face.y + face.height / 2;
  const inside = cx >= found.x && cx <= found.x + found.width && cy >= found.y && cy <= found.y + found.height;
  return iou(found, face) >= 0.3 || (inside && found.width / face.width >= 0.5 && found.width / face.width <= 2);
}

describe.skipIf(!data)("BlazeFace on a 1080p classroom frame", () => {
  let tf: Awaited<ReturnType<typeof startFaceApi>>["tf"];
  let locator: FaceLocator;
  let scene: Scene;

  beforeAll(async () => {
    ({ tf } = await startFaceApi("wasm"));
    locator = await loadBlazeFace(tf, BLAZEFACE_LOCATE);
    scene = await photoRowScene(
      data as string,
      [
        { name: "leonard", width: 24 },
        { name: "penny", width: 32 },
        { name: "raj", width: 40 },
        { name: "sheldon", width: 48 },
        { name: "howard", width: 64 },
        { name: "amy", width: 96 },
      ],
      { x: 150, y: 200, dx: 290, dy: 110 },
    );
  });

  it("finds the faces, 24 to 96 px, once each and nothing else, in frame pixels", async () => {
    const shown = facesAt(scene, 0).map((f) => f.box);
    const frame = tf.tensor3d(new Uint8Array(composeFrame(scene, 0)), [1080, 1920, 3], "int32") as tfjs.Tensor3D;
    try {
      const found = await locator.locate(frame);
      const hits = shown.filter((face) => found.some((f) => finds(f.box, face)));
      // Today all six; the 40 px face scores 0.31, near the threshold: one miss is allowed, not two.
      expect(hits.length).toBeGreaterThanOrEqual(5);
      for (const face of shown.filter((b) => b.width >= 48)) expect(hits).toContain(face);
      for (const f of found) expect(shown.some((face) => finds(f.box, face))).toBe(true);
      expect(found).toHaveLength(hits.length);
      for (const f of found) expect(f.score).toBeGreaterThanOrEqual(BLAZEFACE_LOCATE.minScore);
    } finally {
      frame.dispose();
    }
  });

  it("leaves no tensor behind", async () => {
    const frame = tf.tensor3d(new Uint8Array(composeFrame(scene, 0)), [1080, 1920, 3], "int32") as tfjs.Tensor3D;
    try {
      await locator.locate(frame);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await locator.locate(frame);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      frame.dispose();
    }
  });

  it("confirms each face on a second look around it, and nothing where there is none, leaving no tensor", async () => {
    const shown = facesAt(scene, 0).map((f) => f.box);
    const image = { width: 1920, height: 1080, rgb: composeFrame(scene, 0) };
    const empty = { x: 1700, y: 60, width: 40, height: 40 };
    await locator.lookAround(image, shown);
    const before = tf.memory().numTensors;
    const looks = await locator.lookAround(image, [...shown, empty]);
    expect(tf.memory().numTensors).toBe(before);
    // The 24 px face may fall under the second look's score; every face of 32 px and more is confirmed.
    shown.forEach((face, i) => {
      if (face.width >= 32) expect(looks[i] && finds(looks[i].box, face), `${face.width} px`).toBe(true);
    });
    expect(looks.at(-1)).toBeUndefined();
  });
});
