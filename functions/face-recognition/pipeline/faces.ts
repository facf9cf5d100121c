// Stage 3: frames → faces. @vladmandic/face-api finds faces, their 68 landmarks and a 128-D
// descriptor. Backend: tfjs-node where it loads (optional dependency), else the wasm backend. The
// pure-JS cpu backend is 25–40× slower and is used only when asked for by name.
import { existsSync, readdirSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";
import { type LoadableNet, loadNetWeights } from "./model-weights.js";
import { decideSpeedups, installedVersions, type SpeedupDecision, type SpeedupSetting } from "./speedups.js";
import { type SmallFaceSearch, scaleBox, searchSmallFaces, withTensor } from "./small-faces.js";
import {
  fuseLandmarkNet,
  fuseRecognitionNet,
  fuseTinyDetector,
  type LandmarkNet,
  type RecognitionNet,
  type TinyDetectorNet,
} from "./fused-nets.js";

export type Detector = "tiny" | "ssd";
export type BackendChoice = "auto" | "tensorflow" | "wasm" | "cpu";

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedFace {
  box: Box;
  /** Detector confidence, 0–1. */
  score: number;
  descriptor: Float32Array;
}

export interface RgbImage {
  width: number;
  height: number;
  rgb: Buffer;
}

export interface DetectOptions {
  /** Whether the full-frame pass's faces already answer: the small-face search is then skipped. */
  enough?(faces: DetectedFace[]): boolean;
}

/** The narrow interface the pipeline sees. */
export interface FaceEngine {
  readonly backend: string;
  readonly detector: Detector;
  /** Whether face-api runs with this project's speedups (speedups.ts), and if not, why. */
  readonly speedups: SpeedupDecision;
  detect(image: RgbImage, options?: DetectOptions): Promise<DetectedFace[]>;
  /** Live tensors in the engine: flat across frames when nothing leaks. */
  tensorCount(): number;
}

export interface EngineOptions {
  detector: Detector;
  backend: BackendChoice;
  /** Lowest detector score kept (detection stage). */
  minDetectionScore: number;
  /** Input size of the tiny detector (multiple of 32). */
  tinyInputSize: number;
  /** The full-frame pass sees frames scaled down to this width (0: as they come). */
  detectWidth: number;
  /** The small-face search (small-faces.ts); undefined: off. */
  smallFaces?: SmallFaceSearch;
  speedups: SpeedupSetting;
}

// face-api's own types come from its bundled tfjs; keep the surface we use small and typed here.
interface FaceApiResult {
  detection: { score: number; box: Box };
  descriptor: Float32Array;
}
export type NetName = "ssdMobilenetv1" | "tinyFaceDetector" | "faceLandmark68Net" | "faceRecognitionNet";
export interface FaceApi {
  nets: Record<NetName, LoadableNet & { readonly isLoaded: boolean; loadFromDisk(dir: string): Promise<void> }> & {
    tinyFaceDetector: TinyDetectorNet;
    faceRecognitionNet: RecognitionNet;
    faceLandmark68Net: LandmarkNet;
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => object;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => object;
  detectAllFaces(input: tfjs.Tensor3D, options: object): DetectionTask;
}
/** face-api's task: awaited, the detections alone; chained, landmarks and descriptors too. */
interface DetectionTask extends PromiseLike<{ box: Box; score: number }[]> {
  withFaceLandmarks(): { withFaceDescriptors(): Promise<FaceApiResult[]> };
}
type Tf = typeof tfjs;

/** face-api and the tfjs-core its nets run on (this code's tfjs: face-api's own `tf` may be a part of it). */
export interface FaceApiRuntime {
  faceapi: FaceApi;
  tf: Tf;
}

export interface FaceApiStart extends FaceApiRuntime {
  speedups: SpeedupDecision;
}

const requireHere = createRequire(import.meta.url);

interface LoadedFaceApi extends FaceApiStart {
  backend: string;
}

/** Loads the face-api build that matches the backend that can run here, stock unless the speedups apply. */
function loadFaceApi(choice: BackendChoice, setting: SpeedupSetting): LoadedFaceApi {
  const tf = requireHere("@tensorflow/tfjs-core") as Tf;
  if ((choice === "auto" && tfjsNodeBuilt()) || choice === "tensorflow") {
    try {
      requireHere("@tensorflow/tfjs-node");
      const speedups = decideSpeedups(setting, "tensorflow", installedVersions());
      return { faceapi: requireHere("@vladmandic/face-api") as FaceApi, tf, backend: "tensorflow", speedups };
    } catch (err) {
      if (choice === "tensorflow")
        throw new Error(`FACE_BACKEND=tensorflow but @tensorflow/tfjs-node does not load: ${(err as Error).message}`);
    }
  }
  const backend = choice === "cpu" ? "cpu" : "wasm";
  const speedups = decideSpeedups(setting, backend, installedVersions());
  const faceapi = speedups.enabled ? requireFaceApiTrimmed(tf) : (requireHere(FACE_API_WASM_BUILD) as FaceApi);
  if (backend === "wasm") {
    const wasm = requireHere("@tensorflow/tfjs-backend-wasm") as {
      setWasmPaths(path: string, usePlatformFetch?: boolean): void;
    };
    // The .wasm binaries ship in the package: load them from disk, never from a CDN.
    wasm.setWasmPaths(join(dirname(requireHere.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist/"));
  }
  return { faceapi, tf, backend, speedups };
}

/**
 * tfjs-node's JavaScript installs even where its native library could not be downloaded (as here):
 * loading it only to fail costs 0.3 s at every start, so look for the library first.
 */
function tfjsNodeBuilt(): boolean {
  try {
    const lib = join(dirname(requireHere.resolve("@tensorflow/tfjs-node/package.json")), "lib");
    return readdirSync(lib).some((napi) => existsSync(join(lib, napi, "tfjs_binding.node")));
  } catch {
    return false;
  }
}

/**
 * The tfjs functions face-api's wasm build calls (1.7.15; a test checks the list against the build).
 * face-api copies the namespace it is given for "@tensorflow/tfjs", ~480 names, into each of its 42
 * modules (~20,000 getters, ~50 ms of every start); given these 41, a few hundred.
 */
export const FACE_API_TFJS = [
  ...["Tensor", "Variable", "browser", "image", "io", "tidy", "cast", "clipByValue", "fill", "zeros", "scalar"],
  ...["tensor", "tensor1d", "tensor2d", "tensor3d", "tensor4d", "reshape", "expandDims", "concat", "stack"],
  ...["unstack", "slice", "slice3d", "pad", "tile", "transpose", "add", "sub", "mul", "div", "exp", "matMul"],
  ...["relu", "sigmoid", "softmax", "batchNorm", "conv2d", "depthwiseConv2d", "separableConv2d", "avgPool"],
  "maxPool",
] as const;

export const FACE_API_WASM_BUILD = "@vladmandic/face-api/dist/face-api.node-wasm.js";

/**
 * Speedup: face-api's wasm build, given `FACE_API_TFJS` of tfjs-core for "@tensorflow/tfjs" while it
 * loads. The stand-ins leave require.cache afterwards: the rest of the process gets all of tfjs.
 */
function requireFaceApiTrimmed(tf: Tf): FaceApi {
  const path = requireHere.resolve(FACE_API_WASM_BUILD);
  if (requireHere.cache[path]) return requireHere(path) as FaceApi;
  const union = createRequire(path).resolve("@tensorflow/tfjs");
  // Already loaded whole by someone else: nothing left to save.
  if (requireHere.cache[union]) return requireHere(path) as FaceApi;
  const standIns = [...standInUnusedTfjsPackages(union), union];
  try {
    // Its entry registers the tensor methods face-api calls (as3D, …) and the gradients.
    requireHere(union);
    requireHere.cache[union] = loadedModule(union, Object.fromEntries(FACE_API_TFJS.map((name) => [name, tf[name]])));
    return requireHere(path) as FaceApi;
  } finally {
    for (const standIn of standIns) delete requireHere.cache[standIn];
  }
}

/**
 * "@tensorflow/tfjs" loads every tfjs package: layers, converter, data and the cpu and webgl backends.
 * face-api's nets are written on tfjs-core alone, so while it loads the unused packages are empty
 * modules. Returns their paths.
 */
function standInUnusedTfjsPackages(union: string): string[] {
  const requireFromUnion = createRequire(union);
  const paths = ["layers", "converter", "data", "backend-webgl", "backend-cpu"]
    .map((name) => requireFromUnion.resolve(`@tensorflow/tfjs-${name}`))
    .filter((path) => !requireHere.cache[path]);
  for (const path of paths) requireHere.cache[path] = loadedModule(path, {});
  return paths;
}

/** What `require(path)` returns from the cache: `exports`, without reading the file. */
function loadedModule(path: string, exports: object): Module {
  const module = new Module(path);
  module.filename = path;
  module.loaded = true;
  module.exports = exports;
  return module;
}

/** The weight files of each net in face-api's model folder. */
export const MODEL_FILES: Record<NetName, string> = {
  ssdMobilenetv1: "ssd_mobilenetv1_model",
  tinyFaceDetector: "tiny_face_detector_model",
  faceLandmark68Net: "face_landmark_68_model",
  faceRecognitionNet: "face_recognition_model",
};

export function modelDir(): string {
  return join(dirname(requireHere.resolve("@vladmandic/face-api/package.json")), "model");
}

const engines = new Map<string, Promise<FaceEngine>>();

/** Models load once per process; the first inference (slow: kernels compile) happens here. */
export function loadFaceEngine(options: EngineOptions): Promise<FaceEngine> {
  const key = JSON.stringify(options);
  let engine = engines.get(key);
  if (!engine) {
    engine = createEngine(options);
    engines.set(key, engine);
  }
  return engine;
}

let started: { backend: string; setting: SpeedupSetting; ready: Promise<FaceApiStart> } | undefined;

/**
 * face-api on the chosen backend, ready for its nets to load; once per process (face-api keeps its
 * nets globally, so a process runs one backend, with or without the speedups).
 */
export async function startFaceApi(choice: BackendChoice, setting: SpeedupSetting = "auto"): Promise<FaceApiStart> {
  if (!started) {
    const { backend, ...loaded } = loadFaceApi(choice, setting);
    started = { backend, setting, ready: backendReady(backend, loaded) };
  } else if (setting !== started.setting || (choice !== "auto" && choice !== started.backend)) {
    throw new Error(
      `face-api already runs on ${started.backend} with FACE_SPEEDUPS=${started.setting}: not ${choice}/${setting}`,
    );
  }
  return started.ready;
}

async function backendReady(backend: string, loaded: FaceApiStart): Promise<FaceApiStart> {
  if (backend !== "tensorflow" && !(await loaded.tf.setBackend(backend)))
    throw new Error(`the tfjs ${backend} backend failed to start`);
  await loaded.tf.ready();
  return loaded;
}

async function createEngine(options: EngineOptions): Promise<FaceEngine> {
  const { faceapi, tf, speedups } = await startFaceApi(options.backend, options.speedups);
  const dir = modelDir();
  const nets: NetName[] = [
    options.detector === "ssd" ? "ssdMobilenetv1" : "tinyFaceDetector",
    "faceLandmark68Net",
    "faceRecognitionNet",
  ];
  // Speedups: face-api's passes replaced by fused ones (fused-nets.ts); the SSD detector keeps its own.
  const fuse: Partial<Record<NetName, () => void>> = {
    tinyFaceDetector: () => fuseTinyDetector(tf, faceapi.nets.tinyFaceDetector),
    faceLandmark68Net: () => fuseLandmarkNet(tf, faceapi.nets.faceLandmark68Net),
    faceRecognitionNet: () => fuseRecognitionNet(tf, faceapi.nets.faceRecognitionNet),
  };
  // Nets are shared by every engine of the process (face-api keeps them globally): load each once.
  for (const name of nets) {
    const net = faceapi.nets[name];
    if (net.isLoaded) continue;
    if (!speedups.enabled) {
      await net.loadFromDisk(dir);
      continue;
    }
    loadNetWeights(tf, net, dir, MODEL_FILES[name]);
    fuse[name]?.();
  }
  const tinyOptions = (inputSize: number) =>
    new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: options.minDetectionScore });
  const detectorOptions =
    options.detector === "ssd"
      ? new faceapi.SsdMobilenetv1Options({ minConfidence: options.minDetectionScore, maxResults: 50 })
      : tinyOptions(options.tinyInputSize);

  const toTensor = (image: RgbImage) =>
    tf.tensor3d(
      new Uint8Array(image.rgb.buffer, image.rgb.byteOffset, image.rgb.byteLength),
      [image.height, image.width, 3],
      "int32",
    );
  /** Detection, 68 landmarks and descriptor of every face in `input`, boxes in its own pixels. */
  const analyse = async (input: tfjs.Tensor3D, options: object = detectorOptions): Promise<DetectedFace[]> => {
    const results = await faceapi.detectAllFaces(input, options).withFaceLandmarks().withFaceDescriptors();
    return results.map((r) => ({ box: plainBox(r.detection.box), score: r.detection.score, descriptor: r.descriptor }));
  };
  const passes = {
    tf,
    analyse,
    locate: async (input: tfjs.Tensor3D, inputSize: number) =>
      (await faceapi.detectAllFaces(input, tinyOptions(inputSize))).map((d) => ({
        box: plainBox(d.box),
        score: d.score,
      })),
    tinyOptions,
  };

  const engine: FaceEngine = {
    backend: tf.getBackend(),
    detector: options.detector,
    speedups,
    async detect(image, detectOptions) {
      // The full-frame pass at the width the close-up case was tuned for: its cost and its faces do
      // not depend on how large the frame was decoded. Shrunk here, before any tensor: a 1080p
      // frame as an int32 tensor is 25 MB of fresh memory, and page faults are dear on this VM.
      const small =
        options.detectWidth > 0 && image.width > options.detectWidth ? shrink(image, options.detectWidth) : image;
      const factor = image.width / small.width;
      const faces = await withTensor(toTensor(small), async (input) =>
        (await analyse(input)).map((f) => (factor === 1 ? f : { ...f, box: scaleBox(f.box, factor) })),
      );
      const search = options.smallFaces;
      if (!search || detectOptions?.enough?.(faces)) return faces;
      return [
        ...faces,
        ...(await withTensor(toTensor(image), (input) => searchSmallFaces(passes, input, faces, search))),
      ];
    },
    tensorCount: () => tf.memory().numTensors,
  };
  // The small-face search runs the tiny detector whatever the full-frame pass's detector is.
  if (options.smallFaces && !faceapi.nets.tinyFaceDetector.isLoaded) {
    if (speedups.enabled) {
      loadNetWeights(tf, faceapi.nets.tinyFaceDetector, dir, MODEL_FILES.tinyFaceDetector);
      fuse.tinyFaceDetector?.();
    } else await faceapi.nets.tinyFaceDetector.loadFromDisk(dir);
  }
  // Warm-up: compiles the kernels so the first real video is not 1 s slower.
  await engine.detect({ width: 64, height: 64, rgb: Buffer.alloc(64 * 64 * 3, 128) });
  return engine;
}

/** face-api's boxes keep their coordinates behind getters: a plain copy. */
function plainBox(box: Box): Box {
  return { x: box.x, y: box.y, width: box.width, height: box.height };
}

/** The image scaled down to `width` by averaging the pixels each new pixel covers. */
export function shrink(image: RgbImage, width: number): RgbImage {
  const height = Math.max(1, Math.round((image.height * width) / image.width));
  const fx = image.width / width;
  const fy = image.height / height;
  const rgb = Buffer.alloc(width * height * 3);
  const src = image.rgb;
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * fy);
    const y1 = Math.max(y0 + 1, Math.min(image.height, Math.floor((y + 1) * fy)));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * fx);
      const x1 = Math.max(x0 + 1, Math.min(image.width, Math.floor((x + 1) * fx)));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = y0; sy < y1; sy++) {
        let o = (sy * image.width + x0) * 3;
        for (let sx = x0; sx < x1; sx++, o += 3) {
          r += src[o] as number;
          g += src[o + 1] as number;
          b += src[o + 2] as number;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 3;
      rgb[o] = Math.round(r / n);
      rgb[o + 1] = Math.round(g / n);
      rgb[o + 2] = Math.round(b / n);
    }
  }
  return { width, height, rgb };
}
