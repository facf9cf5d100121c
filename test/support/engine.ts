// The face engine as the tests load it: wasm backend, the speedups the test project asks for
// (project "stock" runs with FACE_SPEEDUPS=off), the shipped detector settings.
import type { SpeedupSetting } from "../../functions/face-recognition/pipeline/engine/speedups.js";
import type { EngineOptions } from "../../functions/face-recognition/pipeline/faces.js";
import { SMALL_FACE_SEARCH } from "../../functions/face-recognition/pipeline/small-faces.js";

/** The small-face search at 1.5×, no second look; `change` overrides any of it. */
export function testEngineOptions(change: Partial<EngineOptions> = {}): EngineOptions {
  return {
    detector: "tiny",
    backend: "wasm",
    minDetectionScore: 0.4,
    tinyInputSize: 416,
    tinySecondInputSize: 0,
    detectWidth: 640,
    smallFaces: { ...SMALL_FACE_SEARCH, tileScale: 1.5, detector: "blazeface" },
    speedups: (process.env.FACE_SPEEDUPS ?? "auto") as SpeedupSetting,
    ...change,
  };
}
