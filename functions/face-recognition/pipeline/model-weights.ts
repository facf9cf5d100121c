// Model weights straight into the backend's memory. face-api's loader (tfjs's) dequantizes each
// weight into a JavaScript array, which the wasm backend then copies into its heap: every weight is
// written twice, and each new page of memory costs ~17 µs on this VM (0.1 s of the start for the
// recognition net alone). Here a weight is dequantized once, into its tensor's own memory.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";

type Tf = typeof tfjs;
type WeightArray = Float32Array | Int32Array;

/** One entry of a tfjs weights manifest (`<model>-weights_manifest.json`). */
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** What face-api's nets offer for weights that are already tensors. */
export interface LoadableNet {
  loadFromWeightMap(weightMap: tfjs.NamedTensorMap): void;
}

/** Loads `<dir>/<model>-weights_manifest.json` and its weight files into `net`. */
export async function loadNetWeights(tf: Tf, net: LoadableNet, dir: string, model: string): Promise<void> {
  const manifestPath = join(dir, `${model}-weights_manifest.json`);
  const groups = JSON.parse(await readFile(manifestPath, "utf8")) as WeightGroup[];
  const weightMap: tfjs.NamedTensorMap = {};
  try {
    for (const group of groups) {
      // A group's weights run on across its files, in order.
      const files = await Promise.all(group.paths.map((path) => readFile(join(dir, path))));
      const bytes = files.length === 1 ? (files[0] as Buffer) : Buffer.concat(files);
      let offset = 0;
      for (const spec of group.weights) {
        const weight = decodeWeight(tf, spec, bytes.subarray(offset), manifestPath);
        weightMap[spec.name] = weight.tensor;
        offset += weight.byteLength;
      }
    }
    net.loadFromWeightMap(weightMap);
  } catch (err) {
    tf.dispose(Object.values(weightMap));
    throw err;
  }
}

function decodeWeight(
  tf: Tf,
  spec: WeightSpec,
  bytes: Buffer,
  manifestPath: string,
): { tensor: tfjs.Tensor; byteLength: number } {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const q = spec.quantization;
  const unsupported = () =>
    new Error(
      `${manifestPath}: weight ${spec.name} is ${spec.dtype}${q ? ` quantized as ${q.dtype}` : ""}, which this loader does not read`,
    );
  let byteLength: number;
  let fill: (out: WeightArray) => void;
  if (!q) {
    if (spec.dtype !== "float32" && spec.dtype !== "int32") throw unsupported();
    byteLength = size * 4;
    fill = (out) => new Uint8Array(out.buffer, out.byteOffset, byteLength).set(bytes.subarray(0, byteLength));
  } else if ((q.dtype === "uint8" || q.dtype === "uint16") && (spec.dtype === "float32" || spec.dtype === "int32")) {
    const { min, scale } = q;
    if (typeof min !== "number" || typeof scale !== "number")
      throw new Error(`${manifestPath}: weight ${spec.name} has no quantization min and scale`);
    const wide = q.dtype === "uint16";
    byteLength = size * (wide ? 2 : 1);
    const round = spec.dtype === "int32";
    // The same arithmetic as tfjs's decodeWeight: the tensors are bit for bit the same.
    fill = (out) => {
      for (let i = 0; i < size; i++) {
        const value = (wide ? bytes.readUInt16LE(2 * i) : (bytes[i] as number)) * scale + min;
        out[i] = round ? Math.round(value) : value;
      }
    };
  } else {
    throw unsupported();
  }
  if (bytes.length < byteLength) throw new Error(`${manifestPath}: the weights end inside ${spec.name}`);
  return { tensor: backendTensor(tf, spec.shape, spec.dtype as "float32" | "int32", fill), byteLength };
}

/** A tensor whose values `fill` writes in place: into the wasm heap where the backend has one. */
function backendTensor(
  tf: Tf,
  shape: number[],
  dtype: "float32" | "int32",
  fill: (out: WeightArray) => void,
): tfjs.Tensor {
  const backend = tf.backend() as { typedArrayFromHeap?(tensor: tfjs.TensorInfo): WeightArray };
  if (typeof backend.typedArrayFromHeap === "function") {
    // fill runs in the backend (zeros would copy a JavaScript array in); the wasm backend's own
    // kernels write their outputs through this view.
    const tensor = tf.fill(shape, 0, dtype);
    fill(backend.typedArrayFromHeap(tensor));
    return tensor;
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const values = dtype === "int32" ? new Int32Array(size) : new Float32Array(size);
  fill(values);
  return tf.tensor(values, shape, dtype);
}
