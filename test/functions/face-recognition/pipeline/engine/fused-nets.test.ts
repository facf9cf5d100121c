// The fused nets against face-api's own, with the real models on real frames: the same faces, boxes,
// scores and descriptors (to float rounding), and no tensor left behind.
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FaceApiRuntime,
  modelDir,
  startFaceApi,
} from "../../../../../functions/face-recognition/pipeline/engine/face-api.js";
import { type Frame, readFrames } from "../../../../../functions/face-recognition/pipeline/decode/decoder.js";
import * as nets from "../../../../../functions/face-recognition/pipeline/engine/fused-nets.js";
import { requireData } from "../../../../support/data.js";

const data = requireData();

interface Detection {
  score: number;
  box: { x: number; y: number; width: number; height: number };
}
interface TinyFaceDetector extends nets.TinyDetectorNet {
  loadFromDisk(dir: string): Promise<void>;
  locateFaces(input: tfjs.Tensor3D, options: { inputSize: number; scoreThreshold: number }): Promise<Detection[]>;
}
type TinyFaceDetectorClass = new () => TinyFaceDetector;
interface FaceRecognitionNet extends nets.RecognitionNet {
  loadFromDisk(dir: string): Promise<void>;
  computeFaceDescriptor(input: tfjs.Tensor3D): Promise<Float32Array>;
}
interface FaceLandmark68Net extends nets.LandmarkNet {
  loadFromDisk(dir: string): Promise<void>;
  detectLandmarks(input: tfjs.Tensor3D): Promise<{ positions: { x: number; y: number }[] }>;
}
interface FaceApiClasses {
  TinyFaceDetector: TinyFaceDetectorClass;
  FaceRecognitionNet: new () => FaceRecognitionNet;
  FaceLandmark68Net: new () => FaceLandmark68Net;
  extractFaceTensors(image: tfjs.Tensor3D, boxes: Detection["box"][]): Promise<tfjs.Tensor3D[]>;
}

async function firstFrames(file: string, count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of readFrames(file, { fps: 1, maxWidth: 640, maxSeconds: 60, maxPixels: 64_000_000 })) {
    frames.push(frame);
    if (frames.length === count) break;
  }
  return frames;
}

const distance = (a: Float32Array, b: Float32Array) => Math.hypot(...a.map((v, i) => v - (b[i] as number)));

describe.skipIf(!data)("the fused nets", () => {
  const dir = data as string;
  let faceapi: FaceApiRuntime["faceapi"];
  let tf: FaceApiRuntime["tf"];
  let faceApis: TinyFaceDetector;
  let fused: TinyFaceDetector;
  let frames: Frame[];
  const crops: tfjs.Tensor3D[] = [];

  /** Two instances of one of face-api's nets, loaded, the second given its fused pass. */
  async function loadedPair<K extends "TinyFaceDetector" | "FaceRecognitionNet" | "FaceLandmark68Net">(
    name: K,
    fuse: (tfjs: FaceApiRuntime["tf"], net: InstanceType<FaceApiClasses[K]>) => void,
  ): Promise<[InstanceType<FaceApiClasses[K]>, InstanceType<FaceApiClasses[K]>]> {
    const Net = (faceapi as unknown as FaceApiClasses)[name] as new () => InstanceType<FaceApiClasses[K]>;
    const pair: [InstanceType<FaceApiClasses[K]>, InstanceType<FaceApiClasses[K]>] = [new Net(), new Net()];
    await Promise.all(pair.map((net) => net.loadFromDisk(modelDir())));
    fuse(tf, pair[1]);
    return pair;
  }

  beforeAll(async () => {
    ({ faceapi, tf } = await startFaceApi("auto"));
    [faceApis, fused] = await loadedPair("TinyFaceDetector", nets.fuseTinyDetector);
    const files = [
      join(dir, "cse546", "videos", "test_0.mp4"),
      join(dir, "cse546", "videos", "test_5.mp4"),
      join(dir, "videos", "bbt_comic_store_5frames.mp4"),
      join(dir, "extra", "bbt1.jpg"),
      join(dir, "extra", "obama_and_biden_1.jpg"),
      join(dir, "extra", "no_face_white.png"),
    ];
    frames = (await Promise.all(files.map((file) => firstFrames(file, 2)))).flat();
    // The faces face-api's own detector finds, cut out as its landmark and recognition nets get them.
    const { extractFaceTensors } = faceapi as unknown as FaceApiClasses;
    for (const frame of frames) {
      const image = tf.tensor3d(new Uint8Array(frame.rgb), [frame.height, frame.width, 3], "int32");
      const found = await faceApis.locateFaces(image, { inputSize: 416, scoreThreshold: 0.3 });
      crops.push(
        ...(await extractFaceTensors(
          image,
          found.map((f) => f.box),
        )),
      );
      image.dispose();
    }
  });

  afterAll(() => tf.dispose(crops));

  const locate = async (net: TinyFaceDetector, frame: Frame, inputSize: number) => {
    const input = tf.tensor3d(new Uint8Array(frame.rgb), [frame.height, frame.width, 3], "int32");
    try {
      return await net.locateFaces(input, { inputSize, scoreThreshold: 0.3 });
    } finally {
      input.dispose();
    }
  };

  for (const inputSize of [416, 608]) {
    it(`finds the faces face-api finds, with the same boxes and scores (input ${inputSize})`, async () => {
      let faces = 0;
      for (const frame of frames) {
        const expected = await locate(faceApis, frame, inputSize);
        const got = await locate(fused, frame, inputSize);
        expect(got.length).toBe(expected.length);
        got.forEach((face, i) => {
          const want = expected[i] as Detection;
          expect(face.score).toBeCloseTo(want.score, 4);
          for (const key of ["x", "y", "width", "height"] as const) expect(face.box[key]).toBeCloseTo(want.box[key], 2);
        });
        faces += got.length;
      }
      // The frames hold faces (the group photos several), and the blank image none.
      expect(faces).toBeGreaterThanOrEqual(frames.length);
    });
  }

  it("frees every tensor of its pass", async () => {
    const frame = frames[0] as Frame;
    await locate(fused, frame, 416);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await locate(fused, frame, 416);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("gives the descriptors face-api gives, on the faces of the frames", async () => {
    const [theirs, ours] = await loadedPair("FaceRecognitionNet", nets.fuseRecognitionNet);
    // The folded weights keep face-api's own pass valid too (identity scale layers).
    const fusedPass = ours.forwardInput;
    const faceApisPass = Object.getPrototypeOf(ours).forwardInput as nets.RecognitionNet["forwardInput"];
    expect(crops.length).toBeGreaterThanOrEqual(frames.length);
    for (const crop of crops) {
      const expected = await theirs.computeFaceDescriptor(crop);
      expect(distance(await ours.computeFaceDescriptor(crop), expected)).toBeLessThan(1e-4);
      ours.forwardInput = faceApisPass;
      expect(distance(await ours.computeFaceDescriptor(crop), expected)).toBeLessThan(1e-4);
      ours.forwardInput = fusedPass;
    }
  });

  it("gives the 68 landmarks face-api gives, on the faces of the frames", async () => {
    const [theirs, ours] = await loadedPair("FaceLandmark68Net", nets.fuseLandmarkNet);
    expect(crops.length).toBeGreaterThanOrEqual(frames.length);
    for (const crop of crops) {
      const expected = (await theirs.detectLandmarks(crop)).positions;
      const got = (await ours.detectLandmarks(crop)).positions;
      expect(got).toHaveLength(68);
      got.forEach((point, i) => {
        expect(point.x).toBeCloseTo((expected[i] as { x: number }).x, 2);
        expect(point.y).toBeCloseTo((expected[i] as { y: number }).y, 2);
      });
    }
  });

  it("refuses nets that are not loaded face-api nets of the right kind", () => {
    const { TinyFaceDetector, FaceRecognitionNet, FaceLandmark68Net } = faceapi as unknown as FaceApiClasses;
    expect(() => nets.fuseLandmarkNet(tf, new FaceLandmark68Net())).toThrow(/loaded FaceLandmark68Net/);
    expect(() => nets.fuseTinyDetector(tf, new TinyFaceDetector())).toThrow(/loaded TinyFaceDetector/);
    expect(() => nets.fuseRecognitionNet(tf, new FaceRecognitionNet())).toThrow(/loaded FaceRecognitionNet/);
  });
});
