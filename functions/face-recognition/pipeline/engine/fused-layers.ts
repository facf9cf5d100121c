// The layers and inputs the fused nets (fused-nets.ts) share: tfjs's fused convolution with the
// bias and activation in the kernel, and face-api's inputs built with fewer tensors. Apart so the
// per-net passes read as their layer lists.
import type * as tfjs from "@tensorflow/tfjs-core";

export type Tf = typeof tfjs;

export interface ConvParams {
  filters: tfjs.Tensor4D;
  bias: tfjs.Tensor1D;
}

export interface SeparableConvParams {
  depthwise_filter: tfjs.Tensor4D;
  pointwise_filter: tfjs.Tensor4D;
  bias: tfjs.Tensor1D;
}

export interface NetInput {
  readonly batchSize: number;
  getInput(batchIndex: number): unknown;
  toBatchTensor(inputSize: number, isCenterInputs: boolean): tfjs.Tensor4D;
}

// face-api's leaky ReLU: relu(x − 0.1x) + 0.1x, which is max(x, 0.1x).
const LEAKY_ALPHA = 0.10000000149011612;

/**
 * face-api's `toBatchTensor(inputSize, false)` for one image tensor: the image padded with zeros
 * after it to a square, resized to inputSize. The same values through three tensors: face-api's
 * own makes nine (pads, casts, a concat, a stack; 20 MB of the wasm heap at 640 px).
 */
export function squareBatch(tf: Tf, input: NetInput, inputSize: number): tfjs.Tensor4D {
  const image = input.batchSize === 1 ? input.getInput(0) : undefined;
  if (!(image instanceof tf.Tensor) || (image.rank !== 3 && image.rank !== 4))
    return tf.cast(input.toBatchTensor(inputSize, false), "float32");
  // What toBatchTensor records first: face-api maps the boxes back to the image with it.
  (input as unknown as { _inputSize: number })._inputSize = inputSize;
  return tf.tidy(() => {
    const batch = tf.cast(image.rank === 3 ? tf.expandDims(image, 0) : image, "float32") as tfjs.Tensor4D;
    const [, height, width] = batch.shape;
    const side = Math.max(height, width);
    const square = tf.pad(batch, [
      [0, 0],
      [0, side - height],
      [0, side - width],
      [0, 0],
    ]);
    return side === inputSize ? square : tf.image.resizeBilinear(square, [inputSize, inputSize], false, false);
  });
}

/** Output rows of the first layer computed at a time (even: the 2×2 pooling windows stay aligned). */
const BAND_ROWS = 160;

/**
 * The first convolution (3×3, unpadded) and its 2×2 pooling, a band of rows at a time. At 640 px its
 * whole output is 26 MB, and XNNPACK's buffers for it as much again: first touches of memory on the
 * first frame, which are most of the cold start. Each output row depends on three input
 * rows, and each pooled row on two output rows, so the bands give exactly the whole-image result.
 */
export function firstLayerInBands(tf: Tf, x: tfjs.Tensor4D, conv: ConvParams): tfjs.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const outRows = height - 2;
  const bands: tfjs.Tensor4D[] = [];
  for (let top = 0; top < outRows; top += BAND_ROWS) {
    const rows = Math.min(BAND_ROWS, outRows - top);
    bands.push(
      tf.tidy(() =>
        tf.maxPool(
          tf.fused.conv2d({
            x: tf.slice(x, [0, top, 0, 0], [batch, rows + 2, width, channels]),
            filter: conv.filters,
            strides: 1,
            pad: "valid",
            bias: conv.bias,
            activation: "leakyrelu",
            leakyreluAlpha: LEAKY_ALPHA,
          }),
          [2, 2],
          2,
          "same",
        ),
      ),
    );
  }
  if (bands.length === 1) return bands[0] as tfjs.Tensor4D;
  const pooled = tf.concat(bands, 1);
  tf.dispose(bands);
  return pooled;
}

/** Runs the layers in turn, freeing each input as soon as the next exists, not when the pass ends. */
export function runFreeing(x: tfjs.Tensor4D, layers: ((t: tfjs.Tensor4D) => tfjs.Tensor4D)[]): tfjs.Tensor4D {
  let out = x;
  for (const layer of layers) {
    const next = layer(out);
    out.dispose();
    out = next;
  }
  return out;
}

/** The tiny detector's separable layer (face-api pads by 1 and convolves "valid": for 3×3, "same"). */
export function leakySeparable(tf: Tf, p: SeparableConvParams): (x: tfjs.Tensor4D) => tfjs.Tensor4D {
  return (x) => tf.tidy(() => separableConv(tf, x, p, 1, "leakyrelu"));
}

/** A depthwise 3×3 convolution ("same"), then the pointwise one with its bias and activation fused. */
export function separableConv(
  tf: Tf,
  x: tfjs.Tensor4D,
  p: SeparableConvParams,
  strides: 1 | 2,
  activation: "leakyrelu" | "relu" | "linear",
): tfjs.Tensor4D {
  return tf.fused.conv2d({
    x: tf.depthwiseConv2d(x, p.depthwise_filter, strides, "same"),
    filter: p.pointwise_filter,
    strides: 1,
    pad: "valid",
    bias: p.bias,
    activation,
    leakyreluAlpha: LEAKY_ALPHA,
  });
}

/** face-api's input to its landmark and recognition nets: a square crop, (x − mean) / 255. */
export function normalizedCrop(tf: Tf, input: NetInput, size: number, mean: tfjs.Tensor1D): tfjs.Tensor4D {
  return tf.div(tf.sub(tf.cast(input.toBatchTensor(size, true), "float32"), mean), 255);
}
