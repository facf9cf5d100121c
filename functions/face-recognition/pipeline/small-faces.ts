// Small faces: the tiny detector sees a frame squeezed into its input (416 px): a face much under
// ~50 px there is lost, so a 1080p classroom's 24–96 px faces vanish. After the full-frame pass,
// the frame is searched again (detection only) as a whole at a larger input and in overlapping
// tiles enlarged 1.5×; each new candidate is then verified, with its landmarks and descriptor, on
// a crop around it where the face is ~100 px wide (a second, tighter crop when the first fails). Chosen by numbers: scripts/eval/detectors.ts.
import type * as tfjs from "@tensorflow/tfjs-core";
import type { Box, DetectedFace } from "./faces.js";

export interface SmallFaceSearch {
  /** Tiles of the tiny detector's input size cover the frame enlarged this many times. */
  tileScale: number;
  /** Input size of the tiny detector over the whole frame, for faces too large for a tile. */
  wholeFrameInput: number;
  /** A face this share of the frame's shorter side (or more) marks a close-up: no search. */
  closeUpShare: number;
}

/**
 * The whole-frame pass at 1024 finds most faces of 64 px and more in a 1080p frame (tiles cut them);
 * a face a seventh of the frame's height is a close-up, not a classroom.
 */
export const SMALL_FACE_SEARCH: Omit<SmallFaceSearch, "tileScale"> = { wholeFrameInput: 1024, closeUpShare: 0.15 };

/** The engine's passes, run by face-api (faces.ts). */
export interface Passes {
  tf: typeof tfjs;
  /** Detection, landmarks and descriptors, with these detector options. */
  analyse(input: tfjs.Tensor3D, options: object): Promise<DetectedFace[]>;
  /** Detection alone, by the tiny detector at this input size. */
  locate(input: tfjs.Tensor3D, inputSize: number): Promise<{ box: Box; score: number }[]>;
  tinyOptions(inputSize: number): object;
}

/** The tiny detector's input in a tile. */
const TILE_INPUT = 416;
/**
 * Crops a candidate is confirmed on: `spread` times its size, at this detector input (the face then
 * ~100 px wide); the second when the detector takes nothing in the first.
 */
const VERIFY_CROPS: [spread: number, input: number][] = [
  [3, 320],
  [2, 224],
];

/** Faces of `input` the full-frame pass (`found`) missed, boxes in `input`'s pixels. */
export async function searchSmallFaces(
  passes: Passes,
  input: tfjs.Tensor3D,
  found: DetectedFace[],
  search: SmallFaceSearch,
): Promise<DetectedFace[]> {
  const { tf } = passes;
  const [height, width] = input.shape;
  if (found.some((f) => f.box.width >= search.closeUpShare * Math.min(width, height))) return [];
  const region = (r: Box, size: [number, number]) =>
    tf.tidy(() =>
      tf.image.resizeBilinear(tf.slice(input, [r.y, r.x, 0], [r.height, r.width, 3]), size),
    ) as tfjs.Tensor3D;

  const proposals: { box: Box; score: number }[] = [];
  if (Math.max(width, height) > search.wholeFrameInput)
    proposals.push(...(await passes.locate(input, search.wholeFrameInput)));
  const side = Math.min(Math.round(TILE_INPUT / search.tileScale), width, height);
  for (const tile of tiles(width, height, side, Math.round(side / 4))) {
    const factor = tile.width / TILE_INPUT;
    const boxes = await withTensor(region(tile, [TILE_INPUT, TILE_INPUT]), (t) => passes.locate(t, TILE_INPUT));
    for (const b of boxes) proposals.push({ score: b.score, box: scaleBox(b.box, factor, tile.x, tile.y) });
  }
  const isNew = (box: Box) => !found.some((f) => iou(f.box, box) > 0.3 || insideShare(box, f.box) > 0.6);
  const candidates = mergeBoxes(proposals).filter((p) => isNew(p.box));

  const verified: DetectedFace[] = [];
  for (const candidate of candidates) {
    let confirmed: DetectedFace | undefined;
    for (const [spread, inputSize] of VERIFY_CROPS) {
      const around = cropAround(candidate.box, width, height, spread);
      confirmed = await confirm(passes, inputSize, candidate.box, around, region);
      if (confirmed) break;
    }
    if (confirmed && isNew(confirmed.box)) verified.push(confirmed);
  }
  return mergeBoxes(verified);
}

/** The face, if the detector finds it on `around` (scaled to `input`), with its descriptor. */
async function confirm(
  passes: Passes,
  input: number,
  candidate: Box,
  around: Box,
  region: (r: Box, size: [number, number]) => tfjs.Tensor3D,
): Promise<DetectedFace | undefined> {
  const factor = input / Math.max(around.width, around.height);
  const size: [number, number] = [Math.round(around.height * factor), Math.round(around.width * factor)];
  const faces = await withTensor(region(around, size), (t) => passes.analyse(t, passes.tinyOptions(input)));
  const centre = { x: around.width / 2, y: around.height / 2 };
  return faces
    .map((f) => ({ ...f, box: scaleBox(f.box, 1 / factor, around.x, around.y) }))
    .filter((f) => iou(f.box, candidate) > 0.2 || insideShare(candidate, f.box) > 0.6)
    .sort((a, b) => distance(a.box, around, centre) - distance(b.box, around, centre))[0];
}

/** A square `spread` times the face's size around it, within the frame. */
function cropAround(box: Box, width: number, height: number, spread: number): Box {
  const side = spread * Math.max(box.width, box.height);
  const x = Math.max(0, Math.round(box.x + box.width / 2 - side / 2));
  const y = Math.max(0, Math.round(box.y + box.height / 2 - side / 2));
  return {
    x,
    y,
    width: Math.min(width, Math.round(box.x + box.width / 2 + side / 2)) - x,
    height: Math.min(height, Math.round(box.y + box.height / 2 + side / 2)) - y,
  };
}

function distance(box: Box, crop: Box, centre: { x: number; y: number }): number {
  return Math.hypot(box.x + box.width / 2 - crop.x - centre.x, box.y + box.height / 2 - crop.y - centre.y);
}

/**
 * Square regions of side `tile` (or the image's side, when smaller) covering a width × height
 * image, neighbours overlapping by at least `overlap` px, so that a face of up to `overlap` px
 * lies whole in some tile. Edge tiles are moved inwards rather than cut.
 */
export function tiles(width: number, height: number, tile: number, overlap: number): Box[] {
  const starts = (length: number, side: number) => {
    if (length <= side) return [0];
    const count = Math.ceil((length - overlap) / (side - overlap));
    const step = (length - side) / (count - 1);
    return Array.from({ length: count }, (_, i) => Math.round(i * step));
  };
  const w = Math.min(tile, width);
  const h = Math.min(tile, height);
  return starts(height, h).flatMap((y) => starts(width, w).map((x) => ({ x, y, width: w, height: h })));
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * One box per face from overlapping passes: the highest-scoring first; a box overlapping a kept one
 * (IoU above `threshold`, or one lying mostly inside the other, as a face cut by a tile's edge does)
 * is dropped.
 */
export function mergeBoxes<T extends { box: Box; score: number }>(found: T[], threshold = 0.3): T[] {
  const kept: T[] = [];
  for (const f of [...found].sort((a, b) => b.score - a.score)) {
    const overlaps = kept.some(
      (k) => iou(k.box, f.box) > threshold || insideShare(f.box, k.box) > 0.6 || insideShare(k.box, f.box) > 0.6,
    );
    if (!overlaps) kept.push(f);
  }
  return kept;
}

/** The share of `a`'s area that lies inside `b`. */
function insideShare(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w <= 0 || h <= 0 ? 0 : (w * h) / (a.width * a.height);
}

export function scaleBox(box: Box, factor: number, offsetX = 0, offsetY = 0): Box {
  return {
    x: offsetX + box.x * factor,
    y: offsetY + box.y * factor,
    width: box.width * factor,
    height: box.height * factor,
  };
}

/** Runs `use` on a tensor and disposes of it. */
export async function withTensor<T extends tfjs.Tensor, R>(tensor: T, use: (t: T) => Promise<R>): Promise<R> {
  try {
    return await use(tensor);
  } finally {
    tensor.dispose();
  }
}
