// Model weights straight into the backend's memory. face-api's loader (tfjs's) dequantizes each
// weight into a JavaScript array, which the wasm backend then copies into its heap: every weight is
// written twice, and new pages of memory are dear (README, Speed). Here a weight is dequantized
// once, into its tensor's own memory, from the file read a weight at a time through one small
// buffer (not the whole file's worth of new pages). The reads are synchronous: weights load at start, when nothing waits.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
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
export function loadNetWeights(tf: Tf, net: LoadableNet, dir: string, model: string): void {
  const manifestPath = join(dir, `${model}-weights_manifest.json`);
  const groups = JSON.parse(readFileSync(manifestPath, "utf8")) as WeightGroup[];
  const weightMap: tfjs.NamedTensorMap = {};
  try {
    for (const group of groups) {
      // A group's weights run on across its files, in order.
      const files = new FileRun(group.paths.map((path) => join(dir, path)));
      try {
        for (const spec of group.weights) {
          const format = weightFormat(spec, manifestPath);
          const bytes = files.read(format.byteLength);
          if (bytes.length < format.byteLength) throw new Error(`${manifestPath}: the weights end inside ${spec.name}`);
          weightMap[spec.name] = backendTensor(tf, spec.shape, format.dtype, (out) => format.decode(bytes, out));
        }
      } finally {
        files.close();
      }
    }
    net.loadFromWeightMap(weightMap);
  } catch (err) {
    tf.dispose(Object.values(weightMap));
    throw err;
  }
}

/** Files read one after the other as one run of bytes, through one reused buffer. */
class FileRun {
  private buffer = Buffer.alloc(0);
  private next = 0;
  private fd: number | undefined;

  constructor(private readonly paths: string[]) {}

  /** The next `length` bytes, fewer where the files end; valid until the next read. */
  read(length: number): Buffer {
    if (this.buffer.length < length) this.buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      if (this.fd === undefined) {
        const path = this.paths[this.next++];
        if (path === undefined) break;
        this.fd = openSync(path, "r");
      }
      const got = readSync(this.fd, this.buffer, filled, length - filled, null);
      if (got === 0) this.close();
      filled += got;
    }
    return this.buffer.subarray(0, filled);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** How a weight is stored: its size in the file, and how its values are read from those bytes. */
function weightFormat(
  spec: WeightSpec,
  manifestPath: string,
): { byteLength: number; dtype: "float32" | "int32"; decode(bytes: Buffer, out: WeightArray): void } {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const q = spec.quantization;
  const unsupported = () =>
    new Error(
      `${manifestPath}: weight ${spec.name} is ${spec.dtype}${q ? ` quantized as ${q.dtype}` : ""}, which this loader does not read`,
    );
  const dtype = spec.dtype;
  if (dtype !== "float32" && dtype !== "int32") throw unsupported();
  if (!q) {
    const byteLength = size * 4;
    return {
      byteLength,
      dtype,
      decode: (bytes, out) => new Uint8Array(out.buffer, out.byteOffset, byteLength).set(bytes),
    };
  }
  if (q.dtype !== "uint8" && q.dtype !== "uint16") throw unsupported();
  const { min, scale } = q;
  if (typeof min !== "number" || typeof scale !== "number")
    throw new Error(`${manifestPath}: weight ${spec.name} has no quantization min and scale`);
  const wide = q.dtype === "uint16";
  const round = dtype === "int32";
  return {
    byteLength: size * (wide ? 2 : 1),
    dtype,
    // The same arithmetic as tfjs's decodeWeight: the tensors are bit for bit the same.
    decode: (bytes, out) => {
      for (let i = 0; i < size; i++) {
        const value = (wide ? bytes.readUInt16LE(2 * i) : (bytes[i] as number)) * scale + min;
        out[i] = round ? Math.round(value) : value;
      }
    },
  };
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
