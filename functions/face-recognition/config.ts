// The function's settings, read once at start. The CLI reads the same recognition settings, so
// every command-line option also has an environment variable.
import { availableParallelism } from "node:os";
import * as z from "zod/mini";
import { type Env, listSetting, numberSetting, readSettings, type SettingsReader } from "../../lib/config.js";
import { type DynamoSettings, readDynamoSettings, readS3Settings, type S3Settings } from "../../lib/cloud.js";
import type { BackendChoice, Detector } from "./pipeline/faces.js";
import type { MatchRules } from "./pipeline/match.js";
import { DECODERS, type DecoderKind } from "./pipeline/decode/options.js";
import { SPEEDUP_SETTINGS, type SpeedupSetting } from "./pipeline/engine/speedups.js";
import { SEARCH_DETECTORS, type SearchDetector } from "./pipeline/small-faces.js";
import type { Mode } from "./pipeline/recognize.js";

export interface RecognitionSettings {
  mode: Mode;
  detector: Detector;
  backend: BackendChoice;
  /** The engine's speedups (pipeline/engine/speedups.ts): `auto` where proven, `off` for stock face-api. */
  speedups: SpeedupSetting;
  /** `host`: ffmpeg started by a forked host process, one kept waiting; `simple`: spawned here. */
  decoder: DecoderKind;
  sampleFps: number;
  frameWidth: number;
  /** Frames are scaled into frameWidth × frameMaxHeight: no side of a frame is unbounded. */
  frameMaxHeight: number;
  tinyInputSize: number;
  tinySecondInputSize: number;
  /** The full-frame pass sees frames scaled down to this width (0: as decoded). */
  detectWidth: number;
  /** Tiles of the small-face search cover the frame enlarged this many times (0: no search). */
  smallFaceScale: number;
  /** What proposes small faces over the whole frame (small-faces.ts). */
  smallFaceDetector: SearchDetector;
  /** Rule overrides; unset rules take the defaults for the gallery's model. */
  rules: Partial<MatchRules>;
  maxVideoBytes: number;
  maxVideoSeconds: number;
  /** Decoding stops after this many frames, sampled or not. */
  maxVideoFrames: number;
  maxVideoPixels: number;
  /** Longer side over shorter side, beyond which a video is refused. */
  maxVideoAspect: number;
  maxVideoFps: number;
  ffmpegPath?: string;
}

/**
 * Where student records come from: a DynamoDB table, a local student_data.json, or nothing (the
 * CLI with neither configured: names are reported with empty major and year).
 */
export type StudentSettings = { kind: "table"; table: string } | { kind: "file"; file: string } | { kind: "none" };

/** The table the function reads, and `students load` fills, when STUDENTS_TABLE is unset. */
export const DEFAULT_STUDENTS_TABLE = "students";

export interface FunctionConfig {
  host: string;
  port: number;
  workers: number;
  /** A gallery file, or s3://bucket/key. */
  gallery: string;
  recognition: RecognitionSettings;
  students: StudentSettings;
  s3: S3Settings;
  dynamo: DynamoSettings;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Requests past this many in flight get 429, as the watchdog's max_inflight answers. */
  maxInflight: number;
  /** The only hosts (`host` or `host:port`, lower case) async results are POSTed to. */
  callbackHosts: string[];
  /** Async calls accepted whose result is not yet delivered; more get 429. */
  maxCallbacks: number;
  /** A request's video is abandoned (ffmpeg killed, the worker freed) this long after it arrived. */
  requestTimeoutMs: number;
}

export function readRecognitionSettings(read: SettingsReader): RecognitionSettings {
  const rules: Partial<MatchRules> = {
    threshold: read.optional("MATCH_THRESHOLD", numberSetting({ min: 0, max: 2 })),
    margin: read.optional("MATCH_MARGIN", numberSetting({ min: 0, max: 2 })),
    minScore: read.optional("MIN_DETECTION_SCORE", numberSetting({ min: 0, max: 1 })),
    minFacePx: read.optional("MIN_FACE_PX", numberSetting({ min: 0, max: 10_000 })),
    minFrames: read.optional("MIN_FRAMES", numberSetting({ min: 1, max: 1_000 })),
  };
  // Frames come at up to 1080p's width: a classroom's 24–64 px faces are lost in a 640 px frame.
  const frameWidth = read.int("FRAME_WIDTH", 1920, { min: 64, max: 4096 });
  return {
    mode: read.oneOf("RECOGNITION_MODE", ["all", "first"] as const, "all"),
    detector: read.oneOf("DETECTOR", ["tiny", "ssd"] as const, "tiny"),
    backend: read.oneOf("FACE_BACKEND", ["auto", "tensorflow", "wasm", "cpu"] as const, "auto"),
    speedups: read.oneOf("FACE_SPEEDUPS", SPEEDUP_SETTINGS, "auto"),
    decoder: read.oneOf("DECODER", DECODERS, "host"),
    sampleFps: read.number("SAMPLE_FPS", 2, { min: 0.05, max: 60 }),
    frameWidth,
    // A portrait phone video (1080×1920) fits the default box unchanged.
    frameMaxHeight: read.int("FRAME_MAX_HEIGHT", Math.min(2 * frameWidth, 4096), { min: 64, max: 4096 }),
    tinyInputSize: read.int("TINY_INPUT_SIZE", 416, { min: 128, max: 1024 }),
    tinySecondInputSize: read.int("TINY_SECOND_INPUT_SIZE", 288, { min: 0, max: 1024 }),
    detectWidth: read.int("DETECT_WIDTH", 640, { min: 0, max: 4096 }),
    smallFaceScale: read.number("SMALL_FACE_SCALE", 1.5, { min: 0, max: 4 }),
    smallFaceDetector: read.oneOf("SMALL_FACE_DETECTOR", SEARCH_DETECTORS, "blazeface"),
    rules: Object.fromEntries(Object.entries(rules).filter(([, v]) => v !== undefined)) as Partial<MatchRules>,
    maxVideoBytes: read.int("MAX_VIDEO_BYTES", 512 * 1024 * 1024, { min: 1 }),
    maxVideoSeconds: read.number("MAX_VIDEO_SECONDS", 600, { min: 1 }),
    // 10 minutes at 60 fps: a stated rate can lie (variable-rate streams), every frame costs decoding.
    maxVideoFrames: read.int("MAX_VIDEO_FRAMES", 36_000, { min: 1 }),
    maxVideoPixels: read.int("MAX_VIDEO_PIXELS", 4096 * 2304, { min: 64 * 64 }),
    maxVideoAspect: read.number("MAX_VIDEO_ASPECT", 8, { min: 1, max: 100 }),
    // 240 fps is the slow-motion rate of phones; every frame is decoded, sampled or not.
    maxVideoFps: read.number("MAX_VIDEO_FPS", 240, { min: 1, max: 10_000 }),
    ffmpegPath: read.optional("FFMPEG_PATH"),
  };
}

/** STUDENTS_FILE wins over STUDENTS_TABLE; with neither, `defaultTable`, else no source. */
export function readStudentSettings(read: SettingsReader, defaultTable?: string): StudentSettings {
  const file = read.optional("STUDENTS_FILE");
  if (file !== undefined) return { kind: "file", file };
  const table = read.optional("STUDENTS_TABLE") ?? defaultTable;
  return table === undefined ? { kind: "none" } : { kind: "table", table };
}

export function readFunctionConfig(env: Env = process.env): FunctionConfig {
  return readSettings(env, (read) => ({
    host: read.string("HOST", "127.0.0.1"),
    port: read.int("PORT", 3000, { min: 0, max: 65535 }),
    // The wasm backend runs on one core: one worker process per core.
    workers: read.int("WORKERS", availableParallelism(), { min: 1, max: 64 }),
    gallery: read.string("GALLERY"),
    recognition: readRecognitionSettings(read),
    students: readStudentSettings(read, DEFAULT_STUDENTS_TABLE),
    s3: readS3Settings(read),
    dynamo: readDynamoSettings(read),
    token: read.secret("FUNCTION_TOKEN", "function-token", false, true),
    // Analysis is one video at a time per process; more in flight only queue their downloads.
    maxInflight: read.int("MAX_INFLIGHT", 8, { min: 1, max: 1000 }),
    callbackHosts: read.optional("CALLBACK_HOSTS", CALLBACK_HOSTS) ?? [],
    maxCallbacks: read.int("MAX_CALLBACKS", 16, { min: 1, max: 1000 }),
    // The watchdog's exec_timeout (stack.yml): past it no caller waits for the answer.
    requestTimeoutMs: Math.round(read.number("REQUEST_TIMEOUT_SECONDS", 300, { min: 1 }) * 1000),
  }));
}

/**
 * CALLBACK_HOSTS: a comma-separated list of host names, IPv4 addresses or bracketed IPv6
 * addresses, each with an optional port, in lower case; unset, no callback is ever made.
 */
const CALLBACK_HOSTS = listSetting(
  z.string().check(z.toLowerCase(), z.regex(/^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/)),
  "host or host:port entries, separated by commas",
);
