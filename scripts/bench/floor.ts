// The floor a video's analysis cannot beat: ffmpeg decoding alone of the frames a mode needs,
// then inference alone on them.
import type { FaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import type { Frame, FrameOptions } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { startDecoder } from "../../functions/face-recognition/pipeline/decode/host/host-decoder.js";
import type { Mode } from "../../functions/face-recognition/pipeline/recognize.js";
import type { LabeledVideo } from "../eval/dataset.js";
import { median, REPEATS, timed } from "./stats.js";

/**
 * The frames a mode needs (the first one for `first`: it answers on it; every sampled one for
 * `all`), decoded by an ffmpeg started for them, as a one-off decode would: ours keeps one started
 * ahead of each video, which is the function's doing, not the floor's.
 */
async function decodeOnly(file: string, options: FrameOptions, mode: Mode): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of startDecoder(file, options, { probe: false }).frames()) {
    frames.push(frame);
    if (mode === "first") break;
  }
  return frames;
}

export async function floor(engine: FaceEngine, clip: LabeledVideo, options: FrameOptions, mode: Mode) {
  const decodes: number[] = [];
  const inferences: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const [frames, decodeMs] = await timed(() => decodeOnly(clip.file, options, mode));
    const [, inferenceMs] = await timed(async () => {
      for (const f of frames) await engine.detect(f);
    });
    decodes.push(decodeMs);
    inferences.push(inferenceMs);
  }
  return { decode: median(decodes), inference: median(inferences), total: median(decodes) + median(inferences) };
}
