// Small faces: a detector squeezing a 1080p frame into its input loses a classroom's 24–96 px faces.
// After the full-frame pass, the frame is searched again (detection only) and each new candidate is
// confirmed by a second look on a crop around it where the face is larger. By default MediaPipe's
// BlazeFace full-range looks, over 384 px tiles and then on the candidates' crops (engine/blazeface.ts);
// the `tiny` path is face-api's tiny detector over the frame at 1024 px and over enlarged tiles,
// confirming on crops. In `all` mode the whole frame is searched now and then, and between, only
// near the faces seen (SearchScope). Chosen by numbers: scripts/eval/detector-study.ts, npm run eval.
import type * as tfjs from "@tensorflow/tfjs-core";
import type { FaceLocator } from "./engine/blazeface.js";
import { insideShare, iou, mergeBoxes, scaleBox, squareAround, tiles } from "./engine/boxes.js";
import { crop } from "./engine/images.js";
import type { Box, DetectedFace, LocatedFace, RgbImage } from "./engine/types.js";

/** What proposes candidates over the whole frame: BlazeFace full-range tiles (engine/blazeface.ts), or face-api's tiny detector. */
export const SEARCH_DETECTORS = ["blazeface", "tiny"] as const;
export type SearchDetector = (typeof SEARCH_DETECTORS)[number];

export interface SmallFaceSearch {
  detector: SearchDetector;
  /** `tiny`: tiles of the tiny detector's input size cover the frame enlarged this many times. */
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
export const SMALL_FACE_SEARCH: Omit<SmallFaceSearch, "tileScale" | "detector"> = {
  wholeFrameInput: 1024,
  closeUpShare: 0.15,
  wholeFrameEvery: 4,
  smallestFacesTileScale: 2,
};

/** The engine's passes, run by face-api (faces.ts). */
export interface Passes {
  tf: typeof tfjs;
  /** Detection alone, by the tiny detector at this input size. */
  locate(input: tfjs.Tensor3D, inputSize: number): Promise<LocatedFace[]>;
  /** BlazeFace, when the search's detector is `blazeface`. */
  blazeFace?: FaceLocator;
  toTensor(image: RgbImage): tfjs.Tensor3D;
  /** Landmarks and descriptor of faces at these boxes of `input` (no detection). */
  describeAt(input: tfjs.Tensor3D, boxes: Box[]): Promise<Float32Array[]>;
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

export interface SearchOptions {
  /** Only on crops around these boxes, not in the whole frame. */
  near?: Box[];
  /** Search even beside a close-up of the first pass (`all` mode), else a confirmed close-up answers. */
  besideCloseUps?: boolean;
}

/**
 * Faces of `input` the full-frame pass (`found`) missed, boxes in `input`'s pixels: in the whole
 * frame, or only on crops around the boxes `near`.
 */
export async function searchSmallFaces(
  passes: Passes,
  image: RgbImage,
  found: LocatedFace[],
  search: SmallFaceSearch,
  scope: SearchOptions = {},
): Promise<LocatedFace[]> {
  const { width, height } = image;
  const { near } = scope;
  const blazeFace = search.detector === "blazeface" ? passes.blazeFace : undefined;
  if (!blazeFace)
    return withTensor(passes.toTensor(image), (input) => searchWithTiny(passes, input, found, search, scope));
  const closeUps = scope.besideCloseUps
    ? []
    : found.filter((f) => f.box.width >= search.closeUpShare * Math.min(width, height));
  // A close-up answers only when it is a face to BlazeFace too: one false or oversized box of the
  // first pass would otherwise switch the search off in a classroom.
  if (closeUps.length > 0) {
    const sure = (
      await blazeFace.lookAround(
        image,
        closeUps.map((f) => f.box),
      )
    ).some(Boolean);
    if (sure) return [];
  }

  // A box where a face was carries no detector's score: the second look decides.
  const proposals = near?.map((box) => ({ box, score: 0 })) ?? [];
  if (!near) proposals.push(...(await withTensor(passes.toTensor(image), (input) => blazeFace.locate(input))));
  const isNew = newBeside(found);
  const candidates = mergeBoxes(proposals).filter((p) => isNew(p.box));
  const confirmed = await blazeFace.lookAround(
    image,
    candidates.map((c) => c.box),
  );
  return mergeBoxes(confirmed.flatMap((face) => (face && isNew(face.box) ? [face] : [])));
}

/** Whether a box is a face that `found` does not hold already. */
function newBeside(found: LocatedFace[]): (box: Box) => boolean {
  return (box) => !found.some((f) => iou(f.box, box) > 0.3 || insideShare(box, f.box) > 0.6);
}

/** The `tiny` search: the tiny detector proposes over the whole frame (or `near`) and confirms on crops. */
async function searchWithTiny(
  passes: Passes,
  input: tfjs.Tensor3D,
  found: LocatedFace[],
  search: SmallFaceSearch,
  { near, besideCloseUps }: SearchOptions,
): Promise<LocatedFace[]> {
  const [height, width] = input.shape;
  const closeUp = found.some((f) => f.box.width >= search.closeUpShare * Math.min(width, height));
  if (closeUp && !besideCloseUps) return [];
  const proposals = near?.map((box) => ({ box, score: 0 })) ?? (await proposeWithTiny(passes, input, search));
  const isNew = newBeside(found);
  const candidates = mergeBoxes(proposals).filter((p) => isNew(p.box));
  const confirmed = await confirmWithTiny(passes, input, candidates);
  return mergeBoxes(confirmed.flatMap((face) => (face && isNew(face.box) ? [face] : [])));
}

/** Each candidate confirmed by the tiny detector on a crop around it (other crops when the first fails). */
async function confirmWithTiny(
  passes: Passes,
  input: tfjs.Tensor3D,
  candidates: LocatedFace[],
): Promise<(LocatedFace | undefined)[]> {
  const [height, width] = input.shape;
  const region = (r: Box, size: [number, number]) => cropRegion(passes.tf, input, r, size);
  const confirmed: (LocatedFace | undefined)[] = [];
  for (const candidate of candidates) {
    let face: LocatedFace | undefined;
    for (const [spread, inputSize] of VERIFY_CROPS) {
      face = await confirm(
        passes,
        inputSize,
        candidate.box,
        squareAround(candidate.box, width, height, spread),
        region,
      );
      if (face) break;
    }
    confirmed.push(face);
  }
  return confirmed;
}

/** Candidates (detection only) from the tiny detector over the whole frame and on tiles of it enlarged. */
async function proposeWithTiny(passes: Passes, input: tfjs.Tensor3D, search: SmallFaceSearch): Promise<LocatedFace[]> {
  const proposals: LocatedFace[] = [];
  const region = (r: Box, size: [number, number]) => cropRegion(passes.tf, input, r, size);
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
  return proposals;
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
export async function describeFaces(passes: Passes, image: RgbImage, faces: LocatedFace[]): Promise<DetectedFace[]> {
  const { width, height } = image;
  const [spread, side] = DESCRIBE_CROP;
  const described: DetectedFace[] = [];
  for (const face of faces) {
    const around = squareAround(face.box, width, height, spread);
    const factor = side / Math.max(around.width, around.height);
    const size: [number, number] = [Math.round(around.height * factor), Math.round(around.width * factor)];
    const box = scaleBox({ ...face.box, x: face.box.x - around.x, y: face.box.y - around.y }, factor);
    const scaled = passes.tf.tidy(() => passes.tf.image.resizeBilinear(passes.toTensor(crop(image, around)), size));
    const [descriptor] = await withTensor(scaled, (t) => passes.describeAt(t, [box]));
    if (descriptor) described.push({ ...face, descriptor });
  }
  return described;
}

/** The face, if the detector finds it on `around` (scaled to `input`). */
async function confirm(
  passes: Passes,
  input: number,
  candidate: Box,
  around: Box,
  region: (r: Box, size: [number, number]) => tfjs.Tensor3D,
): Promise<LocatedFace | undefined> {
  const factor = input / Math.max(around.width, around.height);
  const size: [number, number] = [Math.round(around.height * factor), Math.round(around.width * factor)];
  const faces = await withTensor(region(around, size), (t) => passes.locate(t, input));
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
