// npx tsx scripts/eval/detectors.ts: the detection strategies measured on the composed scenes
// (eval/scenes.ts) at the frames' native size, detection only: faces found by face width, boxes on
// no face, and the time per frame. How the engine's small-face search (pipeline/small-faces.ts) was
// chosen. Candidates may be picked by the start of their names: `... detectors.ts engine "tiny 1024"`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";
import { readSettings } from "../../lib/config.js";
import { readRecognitionSettings } from "../../functions/face-recognition/config.js";
import { mergeBoxes, tiles } from "../../functions/face-recognition/pipeline/engine/boxes.js";
import { startFaceApi } from "../../functions/face-recognition/pipeline/engine/face-api.js";
import type { Box, RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import { loadFaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import { readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { SMALL_FACE_SEARCH } from "../../functions/face-recognition/pipeline/small-faces.js";
import { dataDir } from "../../lib/shared-data.js";
import { splitPeople } from "./dataset.js";
import { runScript } from "./run-script.js";
import { type SceneObservation, sceneRows } from "./scene-score.js";
import { composeScenes } from "./scene-video.js";

interface Found {
  box: Box;
  score: number;
}
type DetectAll = (input: tfjs.Tensor3D, options: object) => Promise<{ box: Box; score: number }[]>;

async function main(): Promise<void> {
  const data = dataDir();
  if (!data) throw new Error("no labeled data");
  const settings = readSettings(process.env, readRecognitionSettings);
  const base = {
    backend: settings.backend,
    minDetectionScore: 0.5,
    tinyInputSize: 416,
    tinySecondInputSize: 0,
    detectWidth: 0,
    speedups: settings.speedups,
  };
  // The search the engine runs (small-faces.ts), with landmarks and descriptors, as configured.
  const chosen = await loadFaceEngine({
    ...base,
    detector: "tiny",
    minDetectionScore: 0.4,
    tinySecondInputSize: settings.tinySecondInputSize,
    detectWidth: settings.detectWidth,
    smallFaces: { ...SMALL_FACE_SEARCH, tileScale: settings.smallFaceScale, detector: "tiny" },
  });
  const { faceapi, tf } = await startFaceApi(settings.backend, settings.speedups);
  const detectAll = faceapi.detectAllFaces as unknown as DetectAll;
  const tiny = (inputSize: number, scoreThreshold = 0.5) =>
    new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold });
  const ssd = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: 100 });

  const work = await mkdtemp(join(tmpdir(), "facerec-detectors-"));
  try {
    const split = await splitPeople(data);
    const scenes = await composeScenes(data, split, work, settings);
    const frames: { scene: number; frame: RgbImage & { timeMs: number } }[] = [];
    for (const [i, scene] of scenes.entries())
      for await (const frame of readFrames(scene.file, {
        fps: 2,
        maxWidth: 1920,
        maxSeconds: 10,
        maxPixels: 1920 * 1920,
        inputFormat: "mov",
      }))
        frames.push({ scene: i, frame });

    /** Runs `find` on `region` of the image (scaled by `scale` first) and maps its boxes back. */
    const inRegion = async (
      image: tfjs.Tensor3D,
      region: Box,
      scale: number,
      find: (t: tfjs.Tensor3D) => Promise<Found[]>,
    ): Promise<Found[]> => {
      const crop = tf.tidy(() => {
        const part = tf.slice(image, [region.y, region.x, 0], [region.height, region.width, 3]);
        return scale === 1
          ? part
          : (tf.cast(
              tf.image.resizeBilinear(part, [Math.round(region.height * scale), Math.round(region.width * scale)]),
              "int32",
            ) as tfjs.Tensor3D);
      });
      try {
        return (await find(crop)).map((f) => ({
          score: f.score,
          box: {
            x: region.x + f.box.x / scale,
            y: region.y + f.box.y / scale,
            width: f.box.width / scale,
            height: f.box.height / scale,
          },
        }));
      } finally {
        crop.dispose();
      }
    };
    const full = (options: object) => async (t: tfjs.Tensor3D) =>
      (await detectAll(t, options)).map((d) => ({
        // face-api's boxes keep their coordinates behind getters: copied by name.
        box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height },
        score: d.score,
      }));
    const tiled = (tile: number, scale: number, options: object) => async (t: tfjs.Tensor3D) => {
      const [height, width] = t.shape;
      const found: Found[] = [];
      for (const region of tiles(width, height, Math.round(tile / scale), Math.round(tile / scale / 4)))
        found.push(...(await inRegion(t, region, scale, full(options))));
      return mergeBoxes(found);
    };

    const candidates: { name: string; find: (t: tfjs.Tensor3D) => Promise<Found[]> }[] = [
      {
        name: `engine (tiles ${settings.smallFaceScale}x, ${SMALL_FACE_SEARCH.smallestFacesTileScale}x)`,
        find: async (t) => {
          const [height, width] = t.shape;
          return chosen.detect({ width, height, rgb: Buffer.from(await t.data()) });
        },
      },
      { name: "tiny 416 (today)", find: full(tiny(416)) },
      { name: "tiny 608", find: full(tiny(608)) },
      { name: "tiny 832", find: full(tiny(832)) },
      { name: "tiny 1024", find: full(tiny(1024)) },
      { name: "tiny 1280", find: full(tiny(1280)) },
      { name: "tiny 1600", find: full(tiny(1600)) },
      { name: "ssd (512)", find: full(ssd) },
      { name: "tiles 416 at 1x", find: tiled(416, 1, tiny(416)) },
      { name: "tiles 416 at 1.5x", find: tiled(416, 1.5, tiny(416)) },
      { name: "tiles 416 at 2x", find: tiled(416, 2, tiny(416)) },
    ];
    console.log(`# detection on ${scenes.length} composed scenes, ${frames.length} frames at native size (1080p)`);
    console.log(
      `${"candidate".padEnd(22)} ${["24", "32", "48", "64", "96"].map((w) => `${w} px`.padStart(7)).join("")}  false  ms/frame`,
    );
    const only = process.argv.slice(2);
    for (const candidate of candidates.filter((c) => only.length === 0 || only.some((o) => c.name.startsWith(o)))) {
      const observations: SceneObservation[] = scenes.map((scene) => ({ scene, frames: [], found: [], ms: 0 }));
      let ms = 0;
      for (const { scene, frame } of frames) {
        const input = tf.tensor3d(
          new Uint8Array(frame.rgb.buffer, frame.rgb.byteOffset, frame.rgb.byteLength),
          [frame.height, frame.width, 3],
          "int32",
        );
        const started = performance.now();
        const faces = await candidate.find(input);
        ms += performance.now() - started;
        input.dispose();
        observations[scene]?.frames.push({ timeMs: frame.timeMs, width: frame.width, faces });
      }
      const { byWidth, all } = sceneRows(observations);
      console.log(
        `${candidate.name.padEnd(22)} ${byWidth.map((r) => `${((100 * r.detected) / r.shown).toFixed(0)}%`.padStart(7)).join("")}  ${String(all.falseDetections).padStart(5)}  ${String(Math.round(ms / frames.length)).padStart(8)}`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runScript("detectors", main);
