// Small faces: the tiny detector sees a frame squeezed into its input (416 px): a face much under
// ~50 px there is lost, so a 1080p classroom's 24–96 px faces vanish. After the full-frame pass,
// the frame is searched again (detection only) as a whole at a larger input and in overlapping
// tiles enlarged 1.5× and 2×; each new candidate is then verified, with its landmarks and
// descriptor, on a crop around it where the face is ~100 px wide (other crops when the first
// fails). In `all` mode the whole frame is searched now and then, and between, only near the faces
// seen (SearchScope). Chosen by numbers: scripts/eval/detectors.ts, npm run eval.
import type * as tfjs from "@tensorflow/tfjs-core";
import { insideShare, iou, mergeBoxes, scaleBox, squareAround, tiles } from "./engine/boxes.js";
import type { Box, DetectedFace, LocatedFace } from "./engine/types.js";

export interface SmallFaceSearch {
  /** Tiles of the tiny detector's input size cover the frame enlarged this many times. */
  tileScale: number;
  /** Input size of the tiny detector over the whole frame, for faces too large for a tile. */
  wholeFrameInput: number;
  /** A face this share of the frame's shorter side (or more) marks a close-up: no search. */
  closeUpShare: number;
  /** A second tiling at this scale, for the smallest faces (tiles at 2× find most 24 px faces, fewer of 32–48 px). */
  smallestFacesTileScale: number;
  /** `all` mode: the whole frame is searched every this many sampled frames, else only near recent faces. */
  wholeFrameEvery: number;
}

/**
 * The whole-frame pass at 1024 finds most faces of 64 px and more in a 1080p frame (tiles cut them);
 * a face a seventh of the frame's height is a close-up, not a classroom. The whole frame every 4th
 * sampled frame (2 s at the default 2 fps) names as many of the eval's scenes as every 2nd or every frame.
 */
export const SMALL_FACE_SEARCH: Omit<SmallFaceSearch, "tileScale"> = {
  wholeFrameInput: 1024,
  closeUpShare: 0.15,
  wholeFrameEvery: 4,
  smallestFacesTileScale: 2,
};

/** The engine's passes, run by face-api (faces.ts). */
export interface Passes {
  tf: typeof tfjs;
  /** Detection, landmarks and descriptors, with these detector options. */
  analyse(input: tfjs.Tensor3D, options: object): Promise<DetectedFace[]>;
  /** Detection alone, by the tiny detector at this input size. */
  locate(input: tfjs.Tensor3D, inputSize: number): Promise<LocatedFace[]>;
  /** Landmarks and descriptor of faces at these boxes of `input` (no detection). */
  describeAt(input: tfjs.Tensor3D, boxes: Box[]): Promise<Float32Array[]>;
  tinyOptions(inputSize: number): object;
}

/**
 * The crop a face is described on (and a candidate first confirmed on): 3 times its size, scaled so
 * that the face is ~100 px wide, whatever its size in the frame.
 */
const DESCRIBE_CROP: [spread: number, input: number] = [3, 320];

/** The tiny detector's input in a tile. */
const TILE_INPUT = 416;
/**
 * Crops a candidate is confirmed on: `spread` times its size, at this detector input (the face then
 * ~100–130 px wide); each when the detector takes nothing in the ones before.
 */
const VERIFY_CROPS: [spread: number, input: number][] = [DESCRIBE_CROP, [2, 224], [4, 512]];

/**
 * Faces of `input` the full-frame pass (`found`) missed, boxes in `input`'s pixels: in the whole
 * frame, or only on crops around the boxes `near`.
 */
export async function searchSmallFaces<F extends LocatedFace>(
  passes: Passes,
  input: tfjs.Tensor3D,
  found: LocatedFace[],
  search: SmallFaceSearch,
  near: Box[] | undefined,
  find: Finder<F>,
): Promise<F[]> {
  const [height, width] = input.shape;
  if (found.some((f) => f.box.width >= search.closeUpShare * Math.min(width, height))) return [];
  const region = (r: Box, size: [number, number]) => cropRegion(passes.tf, input, r, size);

  const proposals = near?.map((box) => ({ box, score: 1 })) ?? [];
  if (!near) await proposeInWholeFrame(passes, input, search, region, proposals);
  const isNew = (box: Box) => !found.some((f) => iou(f.box, box) > 0.3 || insideShare(box, f.box) > 0.6);
  const candidates = mergeBoxes(proposals).filter((p) => isNew(p.box));

  const verified: F[] = [];
  for (const candidate of candidates) {
    let confirmed: F | undefined;
    for (const [spread, inputSize] of VERIFY_CROPS) {
      const around = squareAround(candidate.box, width, height, spread);
      confirmed = await confirm(find, inputSize, candidate.box, around, region);
      if (confirmed) break;
    }
    if (confirmed && isNew(confirmed.box)) verified.push(confirmed);
  }
  return mergeBoxes(verified);
}

/** Candidates (detection only) from the tiny detector over the whole frame and on tiles of it enlarged. */
async function proposeInWholeFrame(
  passes: Passes,
  input: tfjs.Tensor3D,
  search: SmallFaceSearch,
  region: (r: Box, size: [number, number]) => tfjs.Tensor3D,
  proposals: { box: Box; score: number }[],
): Promise<void> {
  const [height, width] = input.shape;
  if (Math.max(width, height) > search.wholeFrameInput)
    proposals.push(...(await passes.locate(input, search.wholeFrameInput)));
  // By side, not by scale: in a frame smaller than both tiles' sides, the two tilings are one.
  const sides = [search.tileScale, search.smallestFacesTileScale].map((scale) =>
    Math.min(Math.round(TILE_INPUT / scale), width, height),
  );
  for (const side of new Set(sides)) {
    for (const tile of tiles(width, height, side, Math.round(side / 4))) {
      const factor = tile.width / TILE_INPUT;
      const boxes = await withTensor(region(tile, [TILE_INPUT, TILE_INPUT]), (t) => passes.locate(t, TILE_INPUT));
      for (const b of boxes) proposals.push({ score: b.score, box: scaleBox(b.box, factor, tile.x, tile.y) });
    }
  }
}

/** `r` of `input`, resized to `size` ([height, width]). */
function cropRegion(tf: typeof tfjs, input: tfjs.Tensor3D, r: Box, size: [number, number]): tfjs.Tensor3D {
  return tf.tidy(() => tf.image.resizeBilinear(tf.slice(input, [r.y, r.x, 0], [r.height, r.width, 3]), size));
}

/**
 * Each face's descriptor, described on the crop a candidate is first confirmed on (DESCRIBE_CROP):
 * a face then looks the same to the descriptor whether it was found by the search or the first pass.
 * A face whose landmarks cannot be placed is left out.
 */
export async function describeFaces(
  passes: Passes,
  input: tfjs.Tensor3D,
  faces: LocatedFace[],
): Promise<DetectedFace[]> {
  const [height, width] = input.shape;
  const [spread, side] = DESCRIBE_CROP;
  const described: DetectedFace[] = [];
  for (const face of faces) {
    const around = squareAround(face.box, width, height, spread);
    const factor = side / Math.max(around.width, around.height);
    const size: [number, number] = [Math.round(around.height * factor), Math.round(around.width * factor)];
    const box = scaleBox({ ...face.box, x: face.box.x - around.x, y: face.box.y - around.y }, factor);
    const [descriptor] = await withTensor(cropRegion(passes.tf, input, around, size), (t) =>
      passes.describeAt(t, [box]),
    );
    if (descriptor) described.push({ ...face, descriptor });
  }
  return described;
}

/** How a candidate is confirmed on a crop: detection alone (locating), or with descriptors. */
export type Finder<F extends LocatedFace> = (crop: tfjs.Tensor3D, inputSize: number) => Promise<F[]>;

export const finders = {
  located: (passes: Passes): Finder<LocatedFace> => passes.locate,
  described:
    (passes: Passes): Finder<DetectedFace> =>
    (crop, input) =>
      passes.analyse(crop, passes.tinyOptions(input)),
};

/** The face, if the detector finds it on `around` (scaled to `input`). */
async function confirm<F extends LocatedFace>(
  find: Finder<F>,
  input: number,
  candidate: Box,
  around: Box,
  region: (r: Box, size: [number, number]) => tfjs.Tensor3D,
): Promise<F | undefined> {
  const factor = input / Math.max(around.width, around.height);
  const size: [number, number] = [Math.round(around.height * factor), Math.round(around.width * factor)];
  const faces = await withTensor(region(around, size), (t) => find(t, input));
  const centre = { x: around.width / 2, y: around.height / 2 };
  return faces
    .map((f) => ({ ...f, box: scaleBox(f.box, 1 / factor, around.x, around.y) }))
    .filter((f) => iou(f.box, candidate) > 0.2 || insideShare(candidate, f.box) > 0.6)
    .sort((a, b) => distance(a.box, around, centre) - distance(b.box, around, centre))[0];
}

function distance(box: Box, crop: Box, centre: { x: number; y: number }): number {
  return Math.hypot(box.x + box.width / 2 - crop.x - centre.x, box.y + box.height / 2 - crop.y - centre.y);
}

/**
 * Which frames of a video the small-face search covers whole (`all` mode): every
 * `wholeFrameEvery`-th sampled frame; on the others, only crops around the faces of the last two
 * frames (people in a room move little between samples), a few crops instead of the frame's tiles.
 */
export class SearchScope {
  private frame = 0;
  private recent: Box[][] = [];

  constructor(private readonly wholeFrameEvery: number) {}

  /** The next frame's scope: undefined for the whole frame, else the boxes to look near. */
  next(): Box[] | undefined {
    const whole = this.frame % this.wholeFrameEvery === 0;
    this.frame++;
    if (whole) return undefined;
    // The latest frame's box first: mergeBoxes keeps the first of equal scores.
    return mergeBoxes([...this.recent].reverse().flatMap((boxes) => boxes.map((box) => ({ box, score: 1 })))).map(
      (b) => b.box,
    );
  }

  /** The faces found in the frame `next` was asked for. */
  saw(faces: LocatedFace[]): void {
    this.recent = [...this.recent.slice(-1), faces.map((f) => f.box)];
  }
}

/** Runs `use` on a tensor and disposes of it. */
export async function withTensor<T extends tfjs.Tensor, R>(tensor: T, use: (t: T) => Promise<R>): Promise<R> {
  try {
    return await use(tensor);
  } finally {
    tensor.dispose();
  }
}
