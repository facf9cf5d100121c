// face-api's three nets with fused layers. face-api runs each layer as a convolution followed by
// elementwise ops (bias, scale, activation), every one a new tensor the size of the layer, and
// subtracts the mean colour through three image-sized fills and a JavaScript concat. tfjs's fused
// convolution does bias and activation in the same kernel. Same outputs to float rounding (tested
// against face-api's own passes); a frame's detection and descriptor take about half the time, and
// the first frame half the memory (first touches of memory are most of the cold start: README, Speed).
// face-api still does everything around the passes: boxes, landmarks, alignment. The layers the
// passes share are in fused-layers.ts.
import type * as tfjs from "@tensorflow/tfjs-core";
import {
  type ConvParams,
  firstLayerInBands,
  leakySeparable,
  type NetInput,
  normalizedCrop,
  runFreeing,
  type SeparableConvParams,
  separableConv,
  squareBatch,
  type Tf,
} from "./fused-layers.js";

/** face-api's TinyFaceDetector params: a conv2d first layer, separable convs, a 1×1 conv head. */
interface TinyDetectorParams {
  conv0: ConvParams;
  conv1: SeparableConvParams;
  conv2: SeparableConvParams;
  conv3: SeparableConvParams;
  conv4: SeparableConvParams;
  conv5: SeparableConvParams;
  conv6?: SeparableConvParams;
  conv7?: SeparableConvParams;
  conv8: ConvParams;
}

/** The parts of face-api's TinyFaceDetector this file relies on. */
export interface TinyDetectorNet {
  readonly params: unknown;
  readonly config: { withSeparableConvs?: boolean; isFirstLayerConv2d?: boolean; meanRgb?: [number, number, number] };
  forwardInput(input: NetInput, inputSize: number): tfjs.Tensor4D;
}

/** Replaces the tiny detector's forward pass with the fused one; the net must be loaded. */
export function fuseTinyDetector(tf: Tf, net: TinyDetectorNet): void {
  const { withSeparableConvs, isFirstLayerConv2d, meanRgb } = net.config;
  if (!withSeparableConvs || !isFirstLayerConv2d || !meanRgb || !net.params)
    throw new Error("fuseTinyDetector: not face-api's loaded TinyFaceDetector");
  const params = net.params as TinyDetectorParams;
  // face-api feeds (x − mean) / 255 to the first convolution; being linear and unpadded ("valid"),
  // it takes x itself with the scaling folded into its filter and the mean into its bias: no
  // image-sized tensors for the two steps (~10 MB less of the wasm heap touched at 640 px).
  const conv0 = tf.tidy(() => {
    const { filters, bias } = params.conv0;
    const mean = tf.reshape(tf.tensor1d(meanRgb), [1, 1, 3, 1]);
    return {
      filters: tf.keep(tf.div(filters, 255)),
      bias: tf.keep(tf.sub(bias, tf.div(tf.sum(tf.mul(filters, mean), [0, 1, 2]), 255))),
    };
  }) as ConvParams;
  const folded = { ...params, conv0 };
  net.forwardInput = (input, inputSize) => tf.tidy(() => forward(tf, squareBatch(tf, input, inputSize), folded));
}

function forward(tf: Tf, x: tfjs.Tensor4D, p: TinyDetectorParams): tfjs.Tensor4D {
  const pool = (stride: 1 | 2) => (t: tfjs.Tensor4D) => tf.maxPool(t, [2, 2], stride, "same");
  const layers: ((t: tfjs.Tensor4D) => tfjs.Tensor4D)[] = [
    (t) => firstLayerInBands(tf, t, p.conv0),
    ...[p.conv1, p.conv2, p.conv3, p.conv4].flatMap((conv) => [leakySeparable(tf, conv), pool(2)]),
    leakySeparable(tf, p.conv5),
    pool(1),
    ...[p.conv6, p.conv7].filter((conv) => conv !== undefined).map((conv) => leakySeparable(tf, conv)),
    (t) => tf.fused.conv2d({ x: t, filter: p.conv8.filters, strides: 1, pad: "valid", bias: p.conv8.bias }),
  ];
  return runFreeing(x, layers);
}

interface ScaledConv {
  conv: ConvParams;
  scale: { weights: tfjs.Tensor1D; biases: tfjs.Tensor1D };
}

interface ResidualParams {
  conv1: ScaledConv;
  conv2: ScaledConv;
}

/** face-api's FaceRecognitionNet params: a ResNet-34 whose convs each have a scale layer. */
interface RecognitionParams {
  conv32_down: ScaledConv;
  conv32_1: ResidualParams;
  conv32_2: ResidualParams;
  conv32_3: ResidualParams;
  conv64_down: ResidualParams;
  conv64_1: ResidualParams;
  conv64_2: ResidualParams;
  conv64_3: ResidualParams;
  conv128_down: ResidualParams;
  conv128_1: ResidualParams;
  conv128_2: ResidualParams;
  conv256_down: ResidualParams;
  conv256_1: ResidualParams;
  conv256_2: ResidualParams;
  conv256_down_out: ResidualParams;
  fc: tfjs.Tensor2D;
}

/** The parts of face-api's FaceRecognitionNet this file relies on. */
export interface RecognitionNet {
  readonly params: unknown;
  forwardInput(input: NetInput): tfjs.Tensor2D;
}

// A constant inside face-api's FaceRecognitionNet and FaceFeatureExtractor (landmarks) passes.
const FACE_MEAN_RGB: [number, number, number] = [122.782, 117.001, 104.298];
const RECOGNITION_INPUT = 150;

/**
 * Folds each conv's bias and scale layer into its weights (conv(x, W)·s + b·s + t = conv(x, W·s) +
 * (b·s + t)), leaving an identity scale so face-api's own pass still computes the same thing, and
 * replaces the forward pass with one fused convolution per layer. The net must be loaded.
 */
export function fuseRecognitionNet(tf: Tf, net: RecognitionNet): void {
  const params = net.params as RecognitionParams | undefined;
  if (!params?.conv32_down?.scale || !params.conv256_down_out?.conv2 || !params.fc)
    throw new Error("fuseRecognitionNet: not face-api's loaded FaceRecognitionNet");
  const convs = Object.values(params).flatMap((layer: ScaledConv | ResidualParams | tfjs.Tensor2D) =>
    "conv1" in layer ? [layer.conv1, layer.conv2] : "conv" in layer ? [layer] : [],
  );
  for (const layer of convs) foldScale(tf, layer);
  const mean = tf.keep(tf.tensor1d(FACE_MEAN_RGB));
  net.forwardInput = (input) =>
    tf.tidy(() => recognitionForward(tf, normalizedCrop(tf, input, RECOGNITION_INPUT, mean), params));
}

function foldScale(tf: Tf, layer: ScaledConv): void {
  const { conv, scale } = layer;
  const old = [conv.filters, conv.bias, scale.weights, scale.biases];
  [conv.filters, conv.bias, scale.weights, scale.biases] = tf.tidy(() => [
    tf.mul(conv.filters, scale.weights) as tfjs.Tensor4D,
    tf.add(tf.mul(conv.bias, scale.weights), scale.biases) as tfjs.Tensor1D,
    tf.onesLike(scale.weights),
    tf.zerosLike(scale.biases),
  ]);
  tf.dispose(old);
}

function recognitionForward(tf: Tf, x: tfjs.Tensor4D, p: RecognitionParams): tfjs.Tensor2D {
  const conv = (layer: ScaledConv, strides: 1 | 2, relu: boolean, pad: "same" | "valid") => (t: tfjs.Tensor4D) =>
    tf.fused.conv2d({
      x: t,
      filter: layer.conv.filters,
      strides,
      pad,
      bias: layer.conv.bias,
      activation: relu ? "relu" : "linear",
    });
  const residual = (r: ResidualParams) => (t: tfjs.Tensor4D) =>
    tf.tidy(() =>
      tf.relu(tf.add<tfjs.Tensor4D>(conv(r.conv2, 1, false, "same")(conv(r.conv1, 1, true, "same")(t)), t)),
    );
  // face-api's residualDown: the shortcut is average-pooled and zero-padded to the output's shape.
  const residualDown = (r: ResidualParams) => (t: tfjs.Tensor4D) =>
    tf.tidy(() => {
      let out = conv(r.conv2, 1, false, "same")(conv(r.conv1, 2, true, "valid")(t));
      let pooled = tf.avgPool(t, 2, 2, "valid");
      if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
        out = tf.concat([out, tf.zeros<tfjs.Rank.R4>([out.shape[0], 1, out.shape[2], out.shape[3]])], 1);
        out = tf.concat([out, tf.zeros<tfjs.Rank.R4>([out.shape[0], out.shape[1], 1, out.shape[3]])], 2);
      }
      if (pooled.shape[3] !== out.shape[3]) pooled = tf.concat([pooled, tf.zeros<tfjs.Rank.R4>(pooled.shape)], 3);
      return tf.relu(tf.add<tfjs.Tensor4D>(pooled, out));
    });
  const out = runFreeing(x, [
    conv(p.conv32_down, 2, true, "valid"),
    (t) => tf.maxPool(t, 3, 2, "valid"),
    ...[p.conv32_1, p.conv32_2, p.conv32_3].map(residual),
    residualDown(p.conv64_down),
    ...[p.conv64_1, p.conv64_2, p.conv64_3].map(residual),
    residualDown(p.conv128_down),
    ...[p.conv128_1, p.conv128_2].map(residual),
    residualDown(p.conv256_down),
    ...[p.conv256_1, p.conv256_2].map(residual),
    residualDown(p.conv256_down_out),
  ]);
  return tf.matMul(tf.mean(out, [1, 2]) as tfjs.Tensor2D, p.fc);
}

interface DenseBlockParams {
  conv0: SeparableConvParams | ConvParams;
  conv1: SeparableConvParams;
  conv2: SeparableConvParams;
  conv3: SeparableConvParams;
}

interface FeatureExtractorParams {
  dense0: DenseBlockParams;
  dense1: DenseBlockParams;
  dense2: DenseBlockParams;
  dense3: DenseBlockParams;
}

/** The parts of face-api's FaceLandmark68Net this file relies on: its feature extractor. */
export interface LandmarkNet {
  readonly faceFeatureExtractor: { readonly params: unknown; forwardInput(input: NetInput): tfjs.Tensor4D };
}

const LANDMARK_INPUT = 112;

/** Replaces the landmark net's feature extractor pass (four dense blocks) with a fused one. */
export function fuseLandmarkNet(tf: Tf, net: LandmarkNet): void {
  const extractor = net.faceFeatureExtractor;
  const params = extractor?.params as FeatureExtractorParams | undefined;
  if (!params?.dense0?.conv0 || !params.dense3?.conv3 || !("filters" in params.dense0.conv0))
    throw new Error("fuseLandmarkNet: not face-api's loaded FaceLandmark68Net");
  const mean = tf.keep(tf.tensor1d(FACE_MEAN_RGB));
  extractor.forwardInput = (input) =>
    tf.tidy(() => {
      const out = runFreeing(normalizedCrop(tf, input, LANDMARK_INPUT, mean), [
        denseBlock(tf, params.dense0),
        denseBlock(tf, params.dense1),
        denseBlock(tf, params.dense2),
        denseBlock(tf, params.dense3),
      ]);
      return tf.avgPool(out, [7, 7], [2, 2], "valid");
    });
}

/** face-api's denseBlock4, each separable conv's bias (and the first ReLU) in the convolution. */
function denseBlock(tf: Tf, p: DenseBlockParams): (x: tfjs.Tensor4D) => tfjs.Tensor4D {
  const conv = (x: tfjs.Tensor4D, c: SeparableConvParams | ConvParams, strides: 1 | 2, relu: boolean) =>
    "filters" in c
      ? tf.fused.conv2d({
          x,
          filter: c.filters,
          strides,
          pad: "same",
          bias: c.bias,
          activation: relu ? "relu" : "linear",
        })
      : separableConv(tf, x, c, strides, relu ? "relu" : "linear");
  return (x) =>
    tf.tidy(() => {
      const out1 = conv(x, p.conv0, 2, true);
      const out2 = conv(out1, p.conv1, 1, false);
      const out3 = conv(tf.relu(tf.add<tfjs.Tensor4D>(out1, out2)), p.conv2, 1, false);
      const out4 = conv(tf.relu(tf.add<tfjs.Tensor4D>(out1, tf.add(out2, out3))), p.conv3, 1, false);
      return tf.relu(tf.add<tfjs.Tensor4D>(out1, tf.add(out2, tf.add(out3, out4))));
    });
}
