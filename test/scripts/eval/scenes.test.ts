import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RgbImage } from "../../../functions/face-recognition/pipeline/engine/types.js";
import { readFrames } from "../../../functions/face-recognition/pipeline/decode/decoder.js";
import { detects, sceneRows } from "../../../scripts/eval/scene-score.js";
import { composeFrame, readPhoto, sceneBackdrop, writeScene } from "../../../scripts/eval/scene-video.js";
import { CONDITIONS } from "../../../scripts/eval/conditions.js";
import {
  cropExtent,
  FACE_WIDTHS,
  facesAt,
  planScenes,
  type Scene,
  type SceneVideo,
  type SourcePhoto,
} from "../../../scripts/eval/scenes.js";
import { requireData } from "../../support/data.js";

const dir = mkdtempSync(join(tmpdir(), "scenes-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A plan as text without the photos' pixels (the same photos every time; slow to print). */
const plain = (value: unknown) => JSON.stringify(value, (key, v) => (key === "image" ? undefined : v));

/** A flat photo with a face box where a detector would have put it (planning needs no pixels). */
function photo(name: string | null, colour: number): SourcePhoto {
  const image: RgbImage = { width: 150, height: 150, rgb: Buffer.alloc(150 * 150 * 3, colour) };
  return { name, file: `${name ?? "stranger"}.png`, image, face: { x: 15, y: 5, width: 120, height: 140 } };
}

const known = Array.from({ length: 12 }, (_, i) => photo(`person${i}`, 20 * i));
const strangers = Array.from({ length: 6 }, (_, i) => photo(null, 200 + i));
const plan = (seed: number) => planScenes(known, strangers, { scenes: 12, knownPerScene: 6, unknownPerScene: 2, seed });

describe("planScenes", () => {
  it("shows every known person once at every face width, and the same scenes for the same seed", () => {
    const scenes = plan(14);
    const seen = new Map<string, number[]>();
    for (const scene of scenes)
      for (const face of scene.faces)
        if (face.source.name) seen.set(face.source.name, [...(seen.get(face.source.name) ?? []), face.width]);
    expect(seen.size).toBe(12);
    for (const widths of seen.values()) expect([...widths].sort((a, b) => a - b)).toEqual([...FACE_WIDTHS]);
    expect(plain(plan(14))).toBe(plain(scenes));
    expect(plain(plan(15))).not.toBe(plain(scenes));
  });

  it("shoots the scenes in every condition in turn, at CRF 23–32, phones upright (one stored turned)", () => {
    const scenes = plan(14);
    expect(scenes.map((s) => s.condition)).toEqual([...CONDITIONS, ...CONDITIONS]);
    for (const scene of scenes) {
      expect(scene.crf).toBeGreaterThanOrEqual(23);
      expect(scene.crf).toBeLessThanOrEqual(32);
      expect([scene.width, scene.height]).toEqual(scene.condition === "phone upright" ? [1080, 1920] : [1920, 1080]);
    }
    expect(scenes.filter((s) => s.condition === "phone upright").map((s) => s.case)).toEqual([
      "portrait",
      "portrait rotate-90",
    ]);
    const faces = (c: string) => scenes.filter((s) => s.condition === c).flatMap((s) => s.faces);
    expect(faces("hidden faces").filter((f) => f.hidden).length).toBe(faces("hidden faces").length / 2);
    expect(faces("lit hall").some((f) => f.hidden || f.squeeze)).toBe(false);
    for (const f of faces("turned heads").filter((f) => f.squeeze)) {
      expect(f.squeeze).toBeGreaterThanOrEqual(0.7);
      expect(f.squeeze).toBeLessThanOrEqual(0.85);
    }
    expect(faces("turned heads").filter((f) => f.squeeze).length).toBeGreaterThan(faces("turned heads").length / 2);
  });

  it("keeps every face and head inside the frame, apart from the others, small faces at the back", () => {
    for (const scene of plan(14)) {
      // Head crops (what is pasted), not only face boxes, must never cover another face.
      for (const seconds of [0, 0.7, 1.5, 2.2, 3]) {
        const heads = facesAt(scene, seconds).map(({ face, box }) => {
          const extent = cropExtent(face.source, face.width);
          const x = box.x - Math.round(extent.faceX * (face.squeeze ?? 1));
          return { x, y: box.y - extent.faceY, width: extent.width, height: extent.height, box };
        });
        for (const h of heads) {
          expect(h.x, scene.id).toBeGreaterThanOrEqual(0);
          expect(h.y).toBeGreaterThanOrEqual(0);
          expect(h.x + h.width).toBeLessThanOrEqual(scene.width);
          expect(h.y + h.height).toBeLessThanOrEqual(scene.height);
        }
        for (const [i, a] of heads.entries())
          for (const b of heads.slice(i + 1))
            expect(a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y).toBe(
              true,
            );
      }
      const tops = (w: number) => scene.faces.filter((f) => f.width === w).map((f) => f.y);
      expect(Math.max(...tops(24), -1)).toBeLessThan(Math.min(...tops(96), 1e9));
    }
  });

  it("moves the whole picture in a panning scene: ground truth and pixels move together", () => {
    const scene = plan(14).find((s) => s.condition === "pan and shake") as Scene;
    const at0 = facesAt(scene, 0);
    const at3 = facesAt(scene, 3);
    const moved = at3.map((f, i) => f.box.x - (at0[i]?.box.x ?? 0) - f.face.vx * 3);
    expect(Math.abs(moved[0] ?? 0)).toBeGreaterThan(30);
    expect(new Set(moved.map((m) => Math.round(m))).size).toBe(1);
    const frame = composeFrame(scene, 3);
    for (const { face, box } of at3) {
      const o = ((box.y + Math.floor(box.height / 3)) * scene.width + box.x + Math.floor(box.width / 2)) * 3;
      expect(frame[o], face.source.file).toBe(face.source.image.rgb[0]);
    }
  });

  it("darkens a dim hall, adds noise, and draws a bar over the lower part of hidden faces", () => {
    const scenes = plan(14);
    const dim = scenes.find((s) => s.condition === "dim hall") as Scene;
    const lit = { ...dim, condition: "lit hall" as const };
    const mean = (b: Buffer) => b.reduce((sum, v) => sum + v, 0) / b.length;
    const backdrop = sceneBackdrop(dim);
    expect(mean(composeFrame(dim, 1, backdrop))).toBeLessThan(0.6 * mean(composeFrame(lit, 1, backdrop)));
    expect(composeFrame(dim, 1, backdrop).equals(composeFrame(dim, 1.1, backdrop))).toBe(false);
    const hidden = scenes.find((s) => s.condition === "hidden faces") as Scene;
    const frame = composeFrame(hidden, 0);
    for (const { face, box } of facesAt(hidden, 0)) {
      const at = (fy: number) =>
        frame[((box.y + Math.floor(box.height * fy)) * hidden.width + box.x + box.width / 2) * 3];
      expect(at(0.2)).toBe(face.source.image.rgb[0]);
      expect(at(0.9)).toBe(face.hidden ? 52 : face.source.image.rgb[0]);
    }
  });
});

describe("sceneRows", () => {
  // Enrolled from 1 photo: the first three known people; from 2: the next three.
  const roster = known.slice(0, 6).map((p, i) => ({ name: p.name as string, photos: i < 3 ? ["a"] : ["a", "b"] }));
  const scene = {
    ...(plan(14)[0] as Scene),
    roster,
    file: "s.mp4",
    expected: known.slice(0, 6).map((p) => p.name as string),
  };
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

  it("counts detections by face width, case and condition, names by gallery size, names given to people absent", () => {
    const missed = scene.faces[0];
    const { byWidth, byCase, byCondition, byGallery, all, named, seconds } = sceneRows([
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
    expect(scene.condition).toBe("lit hall");
    expect(byCondition.find((r) => r.label === "lit hall")).toMatchObject({
      shown: 16,
      known: 6,
      named: 2,
      wrongNames: 1,
    });
    expect(byCondition.find((r) => r.label === "dim hall")).toMatchObject({ shown: 0, known: 0 });
    expect(byGallery.map((r) => [r.label, r.named, r.known])).toEqual([
      ["1 photo", 2, 3],
      ["2 photos", 0, 3],
    ]);
    expect([named, seconds]).toEqual([3, 3]);
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
    const scene = planScenes([source], [], { scenes: 9, knownPerScene: 1, unknownPerScene: 0, seed: 1 })[8];
    const placed = scene?.faces[0];
    if (!scene || !placed) throw new Error("no scene planned");
    expect(scene.case).toBe("portrait rotate-90");
    // 1.5 s at 4 fps keeps the encode short; the scene's own CRF (27) is used.
    const video = await writeScene({ ...scene, fps: 4, seconds: 1.5, faces: [{ ...placed, width: 96 }] }, dir);
    expect(readFileSync(video.file).includes("crf=27.0")).toBe(true);
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
