// How a classroom scene is shot: each scene has one condition, which sets its orientation, its
// compression, its light and noise, its camera motion, and what happens to some faces (hidden,
// turned). The pixel effects live here too, so that scene-video.ts only composes and encodes.
import type { RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";

/** The shooting conditions, in the order scenes rotate through them. */
export const CONDITIONS = [
  "lit hall",
  "dim hall",
  "phone upright",
  "pan and shake",
  "hidden faces",
  "turned heads",
] as const;
export type Condition = (typeof CONDITIONS)[number];

export interface ConditionSpec {
  /** x264 CRF the scene is encoded at (23–32: what phones and lecture capture store). */
  crf: number;
  portrait: boolean;
  /** Light: v → gain·v + offset (a dim hall is darker and flatter), then noise of this σ per frame. */
  gain: number;
  offset: number;
  noise: number;
  /** Camera pan (px/s of the whole picture) and hand shake (px amplitude). */
  pan: { vx: number; vy: number };
  shake: number;
  /** Share of the faces given a bar over their lower part, and of those turned (squeezed, sheared). */
  hidden: number;
  turned: number;
}

const PLAIN: ConditionSpec = {
  crf: 23,
  portrait: false,
  gain: 1,
  offset: 0,
  noise: 0,
  pan: { vx: 0, vy: 0 },
  shake: 0,
  hidden: 0,
  turned: 0,
};

export const CONDITION_SPECS: Record<Condition, ConditionSpec> = {
  "lit hall": PLAIN,
  "dim hall": { ...PLAIN, crf: 30, gain: 0.45, offset: 14, noise: 6 },
  "phone upright": { ...PLAIN, crf: 27, portrait: true, shake: 3 },
  "pan and shake": { ...PLAIN, crf: 28, pan: { vx: 18, vy: 4 }, shake: 6 },
  "hidden faces": { ...PLAIN, crf: 26, hidden: 0.5 },
  "turned heads": { ...PLAIN, crf: 32, turned: 0.6 },
};

/** Where the camera has moved the picture at `seconds` (pan plus a shake of a few px, ~2 Hz). */
export function cameraOffset(
  camera: { vx: number; vy: number; shake: number } | undefined,
  seconds: number,
): { dx: number; dy: number } {
  if (!camera) return { dx: 0, dy: 0 };
  const s = camera.shake;
  return {
    dx: Math.round(camera.vx * seconds + s * Math.sin(2 * Math.PI * 1.7 * seconds)),
    dy: Math.round(camera.vy * seconds + s * Math.sin(2 * Math.PI * 2.3 * seconds + 1)),
  };
}

/** `backdrop` moved by (dx, dy), edges repeated, into `frame` (both width × height RGB). */
export function shiftInto(frame: Buffer, backdrop: Buffer, width: number, height: number, dx: number, dy: number) {
  const clampX = (x: number) => Math.min(width - 1, Math.max(0, x));
  for (let y = 0; y < height; y++) {
    const sy = Math.min(height - 1, Math.max(0, y - dy));
    const from = sy * width * 3;
    const to = y * width * 3;
    const x0 = Math.max(0, dx);
    const x1 = Math.min(width, width + dx);
    if (x1 > x0) backdrop.copy(frame, to + x0 * 3, from + (x0 - dx) * 3, from + (x1 - dx) * 3);
    for (let x = 0; x < x0; x++)
      backdrop.copy(frame, to + x * 3, from + clampX(x - dx) * 3, from + clampX(x - dx) * 3 + 3);
    for (let x = Math.max(x1, 0); x < width; x++)
      backdrop.copy(frame, to + x * 3, from + clampX(x - dx) * 3, from + clampX(x - dx) * 3 + 3);
  }
}

/** Light and sensor noise applied in place: gain and offset, then Gaussian noise from `random`. */
export function applyLight(
  frame: Buffer,
  spec: Pick<ConditionSpec, "gain" | "offset" | "noise">,
  random: () => number,
) {
  if (spec.gain === 1 && spec.offset === 0 && spec.noise === 0) return;
  // Box–Muller pairs from a small table: 4096 normal values reused at random offsets (cheap per frame).
  const table = Float32Array.from({ length: 4096 }, () => {
    const u = Math.max(1e-9, random());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  });
  let t = Math.floor(random() * 4096);
  const step = 1 + Math.floor(random() * 4000);
  for (let i = 0; i < frame.length; i++) {
    t = (t + step) & 4095;
    const v = spec.gain * (frame[i] as number) + spec.offset + spec.noise * (table[t] as number);
    frame[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
}

/**
 * A face crop turned: squeezed horizontally by `squeeze` (a head turned ~40° shows a narrower face)
 * and its rows shifted by `shear` px per row about the middle, edges repeated. Same height.
 */
export function turnCrop(crop: RgbImage, squeeze: number, shear: number): RgbImage {
  const width = Math.max(1, Math.round(crop.width * squeeze));
  const rgb = Buffer.alloc(width * crop.height * 3);
  for (let y = 0; y < crop.height; y++) {
    const offset = shear * (y - crop.height / 2);
    for (let x = 0; x < width; x++) {
      const sx = Math.min(crop.width - 1, Math.max(0, Math.floor((x - offset) / squeeze)));
      crop.rgb.copy(rgb, (y * width + x) * 3, (y * crop.width + sx) * 3, (y * crop.width + sx) * 3 + 3);
    }
  }
  return { width, height: crop.height, rgb };
}
