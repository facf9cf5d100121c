// Stage 3: frames → faces. @vladmandic/face-api finds faces, their 68 landmarks and a 128-D
// descriptor. Backend: tfjs-node where it loads (optional dependency), else the wasm backend. The
// pure-JS cpu backend is 25–40× slower and is used only when asked for by name.
import { existsSync, readdirSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";
import { type LoadableNet, loadNetWeights } from "./model-weights.js";
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

/** The narrow interface the pipeline sees. */
export interface FaceEngine {
  readonly backend: string;
  readonly detector: Detector;
  detect(image: RgbImage): Promise<DetectedFace[]>;
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
}

// face-api's own types come from its bundled tfjs; keep the surface we use small and typed here.
interface FaceApiResult {
  detection: { score: number; box: Box };
  descriptor: Float32Array;
}
export type NetName = "ssdMobilenetv1" | "tinyFaceDetector" | "faceLandmark68Net" | "faceRecognitionNet";
export interface FaceApi {
  tf: typeof tfjs;
  nets: Record<NetName, LoadableNet & { readonly isLoaded: boolean }> & {
    tinyFaceDetector: TinyDetectorNet;
    faceRecognitionNet: RecognitionNet;
    faceLandmark68Net: LandmarkNet;
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => object;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => object;
  detectAllFaces(
    input: tfjs.Tensor3D,
    options: object,
  ): { withFaceLandmarks(): { withFaceDescriptors(): Promise<FaceApiResult[]> } };
}

const requireHere = createRequire(import.meta.url);

/** Loads the face-api build that matches the backend that can run here. */
function loadFaceApi(choice: BackendChoice): { faceapi: FaceApi; backend: string } {
  if ((choice === "auto" && tfjsNodeBuilt()) || choice === "tensorflow") {
    try {
      requireHere("@tensorflow/tfjs-node");
      return { faceapi: requireHere("@vladmandic/face-api") as FaceApi, backend: "tensorflow" };
    } catch (err) {
      if (choice === "tensorflow")
        throw new Error(`FACE_BACKEND=tensorflow but @tensorflow/tfjs-node does not load: ${(err as Error).message}`);
    }
  }
  skipUnusedTfjsPackages(choice === "cpu");
  const faceapi = requireHere("@vladmandic/face-api/dist/face-api.node-wasm.js") as FaceApi;
  if (choice === "cpu") return { faceapi, backend: "cpu" };
  const wasm = requireHere("@tensorflow/tfjs-backend-wasm") as {
    setWasmPaths(path: string, usePlatformFetch?: boolean): void;
  };
  // The .wasm binaries ship in the package: load them from disk, never from a CDN.
  const wasmDir = join(dirname(requireHere.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist/");
  wasm.setWasmPaths(wasmDir);
  return { faceapi, backend: "wasm" };
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
 * face-api's wasm build requires "@tensorflow/tfjs", whose entry loads every tfjs package: layers,
 * converter, data and the cpu and webgl backends (0.27 s at every start). face-api's nets are
 * written on tfjs-core alone, so the unused packages are given to it as empty modules (0.1 s).
 */
function skipUnusedTfjsPackages(keepCpuBackend: boolean): void {
  const union = requireHere.resolve("@tensorflow/tfjs");
  if (requireHere.cache[union]) return;
  const requireFromUnion = createRequire(union);
  const unused = ["layers", "converter", "data", "backend-webgl", ...(keepCpuBackend ? [] : ["backend-cpu"])];
  for (const name of unused) {
    const path = requireFromUnion.resolve(`@tensorflow/tfjs-${name}`);
    if (requireHere.cache[path]) continue;
    const empty = new Module(path);
    empty.filename = path;
    empty.loaded = true;
    requireHere.cache[path] = empty;
  }
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

/** face-api on the chosen backend, ready for its nets to load. */
export async function startFaceApi(choice: BackendChoice): Promise<FaceApi> {
  const { faceapi, backend } = loadFaceApi(choice);
  if (backend !== "tensorflow") {
    if (!(await faceapi.tf.setBackend(backend))) throw new Error(`the tfjs ${backend} backend failed to start`);
  }
  await faceapi.tf.ready();
  return faceapi;
}

async function createEngine(options: EngineOptions): Promise<FaceEngine> {
  const faceapi = await startFaceApi(options.backend);
  const tf = faceapi.tf;
  const dir = modelDir();
  const nets: NetName[] = [
    options.detector === "ssd" ? "ssdMobilenetv1" : "tinyFaceDetector",
    "faceLandmark68Net",
    "faceRecognitionNet",
  ];
  // face-api's passes replaced by fused ones (fused-nets.ts); the SSD detector keeps its own.
  const fuse: Partial<Record<NetName, () => void>> = {
    tinyFaceDetector: () => fuseTinyDetector(tf, faceapi.nets.tinyFaceDetector),
    faceLandmark68Net: () => fuseLandmarkNet(tf, faceapi.nets.faceLandmark68Net),
    faceRecognitionNet: () => fuseRecognitionNet(tf, faceapi.nets.faceRecognitionNet),
  };
  // Nets are shared by every engine of the process (face-api keeps them globally): load each once.
  for (const name of nets) {
    if (faceapi.nets[name].isLoaded) continue;
    await loadNetWeights(tf, faceapi.nets[name], dir, MODEL_FILES[name]);
    fuse[name]?.();
  }
  const detectorOptions =
    options.detector === "ssd"
      ? new faceapi.SsdMobilenetv1Options({ minConfidence: options.minDetectionScore, maxResults: 50 })
      : new faceapi.TinyFaceDetectorOptions({
          inputSize: options.tinyInputSize,
          scoreThreshold: options.minDetectionScore,
        });

  const engine: FaceEngine = {
    backend: tf.getBackend(),
    detector: options.detector,
    async detect(image) {
      const pixels = new Uint8Array(image.rgb.buffer, image.rgb.byteOffset, image.rgb.byteLength);
      const input = tf.tensor3d(pixels, [image.height, image.width, 3], "int32");
      try {
        const results = await faceapi.detectAllFaces(input, detectorOptions).withFaceLandmarks().withFaceDescriptors();
        return results.map((r) => ({
          box: {
            x: r.detection.box.x,
            y: r.detection.box.y,
            width: r.detection.box.width,
            height: r.detection.box.height,
          },
          score: r.detection.score,
          descriptor: r.descriptor,
        }));
      } finally {
        input.dispose();
      }
    },
    tensorCount: () => tf.memory().numTensors,
  };
  // Warm-up: compiles the kernels so the first real video is not 1 s slower.
  await engine.detect({ width: 64, height: 64, rgb: Buffer.alloc(64 * 64 * 3, 128) });
  return engine;
}
