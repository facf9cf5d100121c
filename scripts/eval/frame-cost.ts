// npx tsx scripts/eval/frame-cost.ts: what the engine costs on a 1080p classroom-like frame (the first
// frame of the first landscape and portrait scenes, 8 faces each), by the small-face search's scope:
// none (the first pass alone), near the faces of an earlier frame (SearchScope between whole-frame
// searches), and the whole frame. Medians of alternated rounds, so the machine's drift falls on all.
import type { DetectOptions } from "../../functions/face-recognition/pipeline/faces.js";
import { type Frame, type FrameOptions, readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { frameOptions } from "../../functions/face-recognition/runtime.js";
import { splitPeople } from "./dataset.js";
import { type EvalSetup, withEvalSetup } from "./observe.js";
import { runScript } from "./run-script.js";
import { composeScenes } from "./scene-video.js";

const ROUNDS = Number(process.env.EVAL_ROUNDS ?? 5);

async function firstFrame(file: string, options: FrameOptions): Promise<Frame> {
  for await (const frame of readFrames(file, options)) return frame;
  throw new Error(`no frame in ${file}`);
}

async function measure({ data, settings, engine, work }: EvalSetup): Promise<void> {
  const scenes = await composeScenes(data, await splitPeople(data), work, settings);
  for (const scene of [scenes[0], scenes[2]]) {
    if (!scene) continue;
    const image = await firstFrame(scene.file, frameOptions(settings));
    const whole = await engine.detect(image);
    const scopes: [string, DetectOptions][] = [
      ["first pass only", { near: [] }],
      [`near ${whole.length} faces`, { near: whole.map((f) => f.box) }],
      ["whole frame", {}],
    ];
    const times = scopes.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++)
      for (const [i, [, options]] of scopes.entries()) {
        const started = performance.now();
        await engine.detect(image, options);
        times[i]?.push(performance.now() - started);
      }
    console.log(`${scene.id} (${scene.case}, ${image.width}x${image.height}):`);
    for (const [i, [name]] of scopes.entries()) {
      const sorted = [...(times[i] as number[])].sort((a, b) => a - b);
      console.log(
        `  ${name.padEnd(18)} median ${Math.round(sorted[Math.floor(sorted.length / 2)] as number)} ms (${sorted.map(Math.round).join(" ")})`,
      );
    }
  }
}

runScript("frame-cost", () => withEvalSetup("frame-cost", measure));
