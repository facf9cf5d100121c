import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RgbImage } from "../../../functions/face-recognition/pipeline/engine/types.js";
import { readFrames } from "../../../functions/face-recognition/pipeline/decode/decoder.js";
import { detects, sceneRows } from "../../../scripts/eval/scene-score.js";
import { composeFrame, readPhoto, writeScene } from "../../../scripts/eval/scene-video.js";
import {
  FACE_WIDTHS,
  facesAt,
  planScenes,
  SCENE_CASES,
  type Scene,
  type SceneVideo,
  type SourcePhoto,
} from "../../../scripts/eval/scenes.js";
import { requireData } from "../../support/data.js";

const dir = mkdtempSync(join(tmpdir(), "scenes-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A flat photo with a face box where a detector would have put it (planning needs no pixels). */
function photo(name: string | null, colour: number): SourcePhoto {
  const image: RgbImage = { width: 150, height: 150, rgb: Buffer.alloc(150 * 150 * 3, colour) };
  return { name, file: `${name ?? "stranger"}.png`, image, face: { x: 15, y: 5, width: 120, height: 140 } };
}

const known = Array.from({ length: 12 }, (_, i) => photo(`person${i}`, 20 * i));
const strangers = Array.from({ length: 6 }, (_, i) => photo(null, 200 + i));
const plan = (seed: number) => planScenes(known, strangers, { scenes: 10, knownPerScene: 6, unknownPerScene: 2, seed });

describe("planScenes", () => {
  it("shows every known person once at every face width, and the same scenes for the same seed", () => {
    const scenes = plan(14);
    const seen = new Map<string, number[]>();
    for (const scene of scenes)
      for (const face of scene.faces)
        if (face.source.name) seen.set(face.source.name, [...(seen.get(face.source.name) ?? []), face.width]);
    expect(seen.size).toBe(12);
    for (const widths of seen.values()) expect([...widths].sort((a, b) => a - b)).toEqual([...FACE_WIDTHS]);
    expect(JSON.stringify(plan(14))).toBe(JSON.stringify(scenes));
    expect(JSON.stringify(plan(15))).not.toBe(JSON.stringify(scenes));
  });

  it("shows every known person in every case, so that no case's figures are a few people's", () => {
    for (const sceneCase of SCENE_CASES) {
      const names = plan(14)
        .filter((s) => s.case === sceneCase)
        .flatMap((s) => s.faces.map((f) => f.source.name));
      expect(new Set(names.filter((n) => n !== null)).size, sceneCase).toBe(12);
    }
  });

  it("keeps every face inside the frame, apart from the others, for the whole clip", () => {
    for (const scene of plan(14)) {
      for (const seconds of [0, 1.5]) {
        const boxes = facesAt(scene, seconds).map((f) => f.box);
        for (const b of boxes) {
          expect(b.x).toBeGreaterThanOrEqual(0);
          expect(b.y).toBeGreaterThanOrEqual(0);
          expect(b.x + b.width).toBeLessThanOrEqual(scene.width);
          expect(b.y + b.height).toBeLessThanOrEqual(scene.height);
        }
        for (const [i, a] of boxes.entries())
          for (const b of boxes.slice(i + 1))
            expect(a.x + a.width < b.x || b.x + b.width < a.x || a.y + a.height < b.y || b.y + b.height < a.y).toBe(
              true,
            );
      }
    }
  });
});

describe("sceneRows", () => {
  const scene = { ...(plan(14)[0] as Scene), file: "s.mp4", expected: known.slice(0, 6).map((p) => p.name as string) };
  const frameAt = (timeMs: number, scale: number, extra = 0) => ({
    timeMs,
    width: scene.width * scale,
    faces: [
      // Every face but the first, found where it is at that time, in the decoded frame's pixels.
      ...facesAt(scene, timeMs / 1000)
        .slice(1)
        .map(({ box }) => ({
          box: { x: box.x * scale, y: box.y * scale, width: box.width * scale, height: box.height * scale },
        })),
      ...Array.from({ length: extra }, () => ({ box: { x: 0, y: 0, width: 5, height: 5 } })),
    ],
  });

  it("counts detections by face width and case, names given to people absent, and stray boxes", () => {
    const missed = scene.faces[0];
    const { byWidth, byCase, all } = sceneRows([
      {
        scene: scene as SceneVideo,
        frames: [frameAt(0, 1 / 3), frameAt(500, 1 / 3, 2)],
        found: [known[1]?.name as string, known[2]?.name as string, "person11"],
        ms: 1,
      },
    ]);
    expect(all).toMatchObject({ shown: 16, detected: 14, known: 6, named: 2, wrongNames: 1, falseDetections: 2 });
    const missedRow = byWidth.find((r) => r.label === `${missed?.width} px`);
    expect(missedRow?.detected).toBe((missedRow?.shown ?? 0) - 2);
    expect(byCase.find((r) => r.label === scene.case)).toMatchObject({ shown: 16, wrongNames: 1 });
  });

  it("does not take a box of another size, or beside the face, for the face", () => {
    const face = { x: 100, y: 100, width: 30, height: 36 };
    expect(detects({ x: 98, y: 104, width: 34, height: 34 }, face)).toBe(true);
    expect(detects({ x: 60, y: 60, width: 120, height: 120 }, face)).toBe(false);
    expect(detects({ x: 140, y: 100, width: 30, height: 36 }, face)).toBe(false);
  });
});

describe("writeScene", () => {
  it("stores a portrait scene turned, with rotation metadata the pipeline's decoder undoes", async () => {
    const data = requireData();
    if (!data) return;
    const face = await readPhoto(join(data, "people", "amy", "1.png"));
    const source: SourcePhoto = {
      name: "amy",
      file: "1.png",
      image: face,
      face: { x: 10, y: 5, width: 125, height: 140 },
    };
    const scene = planScenes([source], [], { scenes: 5, knownPerScene: 1, unknownPerScene: 0, seed: 1 })[4];
    const placed = scene?.faces[0];
    if (!scene || !placed) throw new Error("no scene planned");
    expect(scene.case).toBe("portrait rotate-90");
    const video = await writeScene({ ...scene, faces: [{ ...placed, width: 96 }] }, dir);
    expect(video.expected).toEqual(["amy"]);
    const frames = [];
    for await (const f of readFrames(video.file, {
      fps: 2,
      maxWidth: 1080,
      maxSeconds: 10,
      maxPixels: 1920 * 1080,
      inputFormat: "mov",
    }))
      frames.push(f);
    expect(frames.map((f) => [f.width, f.height])).toEqual([
      [1080, 1920],
      [1080, 1920],
      [1080, 1920],
    ]);
    // The decoded frame is the composed one (up to H.264's losses), not a turned or mirrored copy.
    const composed = composeFrame(video, 0);
    const decoded = frames[0] as RgbImage;
    const box = facesAt(video, 0)[0]?.box;
    if (!box) throw new Error("no face placed");
    const difference = (other: Buffer) => {
      let sum = 0;
      let n = 0;
      for (let y = box.y; y < box.y + box.height; y++)
        for (let x = box.x; x < box.x + box.width; x++)
          for (let c = 0; c < 3; c++, n++)
            sum += Math.abs(
              (decoded.rgb[(y * 1080 + x) * 3 + c] as number) - (other[(y * 1080 + x) * 3 + c] as number),
            );
      return sum / n;
    };
    const upsideDown = Buffer.alloc(composed.length);
    for (let i = 0; i < 1080 * 1920; i++) composed.copy(upsideDown, (1080 * 1920 - 1 - i) * 3, i * 3, i * 3 + 3);
    expect(difference(composed)).toBeLessThan(6);
    expect(difference(upsideDown)).toBeGreaterThan(20);
  });
});
