// face-api on the backend that can run here: tfjs-node where it loads (optional dependency), else
// the wasm backend; the pure-JS cpu backend (far slower) only when asked for by name. With the
// speedups (speedups.ts) face-api loads on a trimmed tfjs and its nets get fused passes.
import { existsSync, readdirSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";
import {
  fuseLandmarkNet,
  fuseRecognitionNet,
  fuseTinyDetector,
  type LandmarkNet,
  type RecognitionNet,
  type TinyDetectorNet,
} from "./fused-nets.js";
import { type LoadableNet, loadNetWeights } from "./model-weights.js";
import { decideSpeedups, installedVersions, type SpeedupDecision, type SpeedupSetting } from "./speedups.js";
import type { BackendChoice, Box } from "./types.js";

// face-api's own types come from its bundled tfjs; keep the surface we use small and typed here.
interface FaceApiResult {
  detection: { score: number; box: Box };
  descriptor: Float32Array;
}
export type NetName = "ssdMobilenetv1" | "tinyFaceDetector" | "faceLandmark68Net" | "faceRecognitionNet";
interface FaceApi {
  nets: Record<NetName, LoadableNet & { readonly isLoaded: boolean; loadFromDisk(dir: string): Promise<void> }> & {
    tinyFaceDetector: TinyDetectorNet;
    faceRecognitionNet: RecognitionNet;
    faceLandmark68Net: LandmarkNet;
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => object;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => object;
  detectAllFaces(input: tfjs.Tensor3D, options: object): DetectionTask;
  /** face-api's landmark step on detections it is handed (then `.withFaceDescriptors()`). */
  DetectAllFaceLandmarksTask: new (
    detections: PromiseLike<{ detection: object }[]>,
    input: tfjs.Tensor3D,
    useTinyLandmarkNet: boolean,
  ) => { withFaceDescriptors(): Promise<FaceApiResult[]> };
  FaceDetection: new (score: number, relativeBox: object, imageDims: { width: number; height: number }) => object;
  Rect: new (x: number, y: number, width: number, height: number) => object;
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
 * loading it only to fail slows every start, so look for the library first.
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
 * modules (~20,000 getters at every start); given these 41, a few hundred.
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

/** Loads each net once per process (face-api keeps them globally), with the speedups when they apply. */
export async function loadNets({ faceapi, tf, speedups }: FaceApiStart, names: NetName[]): Promise<void> {
  const dir = modelDir();
  // Speedups: face-api's passes replaced by fused ones (fused-nets.ts); the SSD detector keeps its own.
  const fuse: Partial<Record<NetName, () => void>> = {
    tinyFaceDetector: () => fuseTinyDetector(tf, faceapi.nets.tinyFaceDetector),
    faceLandmark68Net: () => fuseLandmarkNet(tf, faceapi.nets.faceLandmark68Net),
    faceRecognitionNet: () => fuseRecognitionNet(tf, faceapi.nets.faceRecognitionNet),
  };
  for (const name of names) {
    const net = faceapi.nets[name];
    if (net.isLoaded) continue;
    if (!speedups.enabled) {
      await net.loadFromDisk(dir);
      continue;
    }
    loadNetWeights(tf, net, dir, MODEL_FILES[name]);
    fuse[name]?.();
  }
}
