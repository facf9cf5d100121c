// Composition: settings → the concrete engine, gallery, student directory and analyzer. Shared by
// the function's server (index.ts), the CLI, the eval and the benchmark.
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { RecognitionSettings, StudentSettings } from "./config.js";
import { type Gallery, toMatchIndex } from "./gallery/format.js";
import type { Analyzer } from "./pipeline/analyze.js";
import { type FaceEngine, loadFaceEngine } from "./pipeline/faces.js";
import { type FrameOptions, prepareDecoding } from "./pipeline/decode/decoder.js";
import { defaultRules, type MatchRules } from "./pipeline/match.js";
import { SMALL_FACE_SEARCH } from "./pipeline/small-faces.js";
import {
  DynamoStudentDirectory,
  FileStudentDirectory,
  NoStudentDirectory,
  type StudentDirectory,
} from "./pipeline/students.js";

export async function startEngine(settings: RecognitionSettings): Promise<FaceEngine> {
  // Before the engine: the ffmpeg host is forked while this process is small (after a fork, every
  // page the parent writes costs a copy-on-write fault, and the models are hundreds of MB of pages).
  prepareDecoding(settings.ffmpegPath, settings.decoder);
  return loadEngine(settings);
}

function loadEngine(settings: RecognitionSettings): Promise<FaceEngine> {
  return loadFaceEngine({
    detector: settings.detector,
    backend: settings.backend,
    // The detector keeps candidates a little below the match rule's score, which decides.
    minDetectionScore: Math.min(0.4, settings.rules.minScore ?? 0.4),
    tinyInputSize: settings.tinyInputSize,
    tinySecondInputSize: settings.tinySecondInputSize,
    detectWidth: settings.detectWidth,
    smallFaces:
      settings.smallFaceScale > 0
        ? { ...SMALL_FACE_SEARCH, tileScale: settings.smallFaceScale, detector: settings.smallFaceDetector }
        : undefined,
    speedups: settings.speedups,
  });
}

export async function openStudents(
  settings: StudentSettings,
  db: () => DynamoDBDocumentClient,
): Promise<StudentDirectory> {
  switch (settings.kind) {
    case "file":
      return FileStudentDirectory.load(settings.file);
    case "table":
      return new DynamoStudentDirectory(db(), settings.table);
    case "none":
      return new NoStudentDirectory();
  }
}

export function frameOptions(settings: RecognitionSettings): FrameOptions {
  // `first` mode answers from close-ups, as the original did: frames at the first pass's width keep
  // its decoding as cheap as before full frames (its small-face search then sees those; README).
  const firstWidth =
    settings.detectWidth > 0 ? Math.min(settings.frameWidth, settings.detectWidth) : settings.frameWidth;
  return {
    fps: settings.sampleFps,
    maxWidth: settings.mode === "first" ? firstWidth : settings.frameWidth,
    maxHeight: settings.frameMaxHeight,
    maxSeconds: settings.maxVideoSeconds,
    maxFrames: settings.maxVideoFrames,
    maxPixels: settings.maxVideoPixels,
    maxAspect: settings.maxVideoAspect,
    maxFps: settings.maxVideoFps,
    inputFormat: "mov",
    threads: 1,
  };
}

export function matchRules(settings: RecognitionSettings, gallery: Gallery): MatchRules {
  return { ...defaultRules(gallery.model, settings.mode), ...settings.rules };
}

export function makeAnalyzer(
  settings: RecognitionSettings,
  engine: FaceEngine,
  gallery: Gallery,
  students: StudentDirectory,
): Analyzer {
  return {
    engine,
    index: toMatchIndex(gallery),
    rules: matchRules(settings, gallery),
    students,
    mode: settings.mode,
    frames: frameOptions(settings),
  };
}
