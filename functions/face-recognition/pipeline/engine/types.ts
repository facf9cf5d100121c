// The engine's vocabulary: images in, faces out. Shared by the engine, the stages after it and the tools.

export type Detector = "tiny" | "ssd";
export type BackendChoice = "auto" | "tensorflow" | "wasm" | "cpu";

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A face found, not yet described. */
export interface LocatedFace {
  box: Box;
  /** Detector confidence, 0–1. */
  score: number;
}

export interface DetectedFace extends LocatedFace {
  descriptor: Float32Array;
}

export interface RgbImage {
  width: number;
  height: number;
  rgb: Buffer;
}
