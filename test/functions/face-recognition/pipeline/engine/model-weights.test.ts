// The weight loader against face-api's own, on the real model files: bit for bit the same tensors,
// and damaged files refused by name with nothing left allocated.
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FaceApiRuntime,
  MODEL_FILES,
  modelDir,
  type NetName,
  startFaceApi,
} from "../../../../../functions/face-recognition/pipeline/engine/face-api.js";
import {
  type LoadableNet,
  loadNetWeights,
} from "../../../../../functions/face-recognition/pipeline/engine/model-weights.js";

interface Net extends LoadableNet {
  loadFromDisk(dir: string): Promise<void>;
  getParamList(): { path: string; tensor: tfjs.Tensor }[];
  dispose(): void;
}

const NET_CLASSES: Record<NetName, string> = {
  ssdMobilenetv1: "SsdMobilenetv1",
  tinyFaceDetector: "TinyFaceDetector",
  faceLandmark68Net: "FaceLandmark68Net",
  faceRecognitionNet: "FaceRecognitionNet",
};

describe("loading model weights into the backend", () => {
  let faceapi: FaceApiRuntime["faceapi"];
  let tf: FaceApiRuntime["tf"];
  let tmp: string;
  const newNet = (name: NetName) => {
    const NetClass = (faceapi as unknown as Record<string, new () => Net>)[NET_CLASSES[name]];
    if (!NetClass) throw new Error(`face-api has no ${NET_CLASSES[name]}`);
    return new NetClass();
  };

  beforeAll(async () => {
    ({ faceapi, tf } = await startFaceApi("auto"));
    tmp = await mkdtemp(join(tmpdir(), "weights-"));
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  for (const name of Object.keys(MODEL_FILES) as NetName[]) {
    it(`gives ${name} the very tensors face-api's loader gives it`, async () => {
      const theirs = newNet(name);
      const ours = newNet(name);
      await theirs.loadFromDisk(modelDir());
      loadNetWeights(tf, ours, modelDir(), MODEL_FILES[name]);
      const expected = theirs.getParamList();
      const got = ours.getParamList();
      expect(got.map((p) => p.path)).toEqual(expected.map((p) => p.path));
      got.forEach((param, i) => {
        const want = (expected[i] as { tensor: tfjs.Tensor }).tensor;
        expect(param.tensor.dtype, param.path).toBe(want.dtype);
        expect(param.tensor.shape, param.path).toEqual(want.shape);
        const bytes = (t: tfjs.Tensor) => Buffer.from((t.dataSync() as Float32Array).buffer.slice(0));
        expect(bytes(param.tensor).equals(bytes(want)), param.path).toBe(true);
      });
      theirs.dispose();
      ours.dispose();
    });
  }

  const damaged = async (model: string, damage: (manifest: string, bin: string) => Promise<void>) => {
    const dir = await mkdtemp(join(tmp, "model-"));
    const manifest = join(dir, `${model}-weights_manifest.json`);
    const bin = join(dir, `${model}.bin`);
    await copyFile(join(modelDir(), `${model}-weights_manifest.json`), manifest);
    await copyFile(join(modelDir(), `${model}.bin`), bin);
    await damage(manifest, bin);
    return dir;
  };

  it("refuses a weights file that ends early, naming the weight, and frees what it had loaded", async () => {
    const dir = await damaged(MODEL_FILES.faceLandmark68Net, (_, bin) => truncate(bin, 100_000));
    const before = tf.memory().numTensors;
    const net = newNet("faceLandmark68Net");
    expect(() => loadNetWeights(tf, net, dir, MODEL_FILES.faceLandmark68Net)).toThrow(
      /face_landmark_68_model-weights_manifest\.json: the weights end inside \S+/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a quantization it does not read, naming the weight", async () => {
    const dir = await damaged(MODEL_FILES.tinyFaceDetector, async (manifest) => {
      const groups = JSON.parse(await readFile(manifest, "utf8"));
      groups[0].weights[3].quantization = { dtype: "float16" };
      await writeFile(manifest, JSON.stringify(groups));
    });
    const net = newNet("tinyFaceDetector");
    expect(() => loadNetWeights(tf, net, dir, MODEL_FILES.tinyFaceDetector)).toThrow(
      /weight \S+ is float32 quantized as float16, which this loader does not read/,
    );
  });
});
