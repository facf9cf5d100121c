// The function assembled from its settings: real S3 source and sink, engine, gallery, students.
// index.ts serves it; tests and the benchmark build it in-process the same way.
import { createDynamoClient } from "../../lib/dynamo.js";
import type { Logger } from "../../lib/log.js";
import { createS3Client } from "../../lib/s3.js";
import type { FunctionConfig } from "./config.js";
import type { Gallery } from "./gallery/format.js";
import { createHandler } from "./handler.js";
import { type Analyzer, analyzeVideo } from "./pipeline/analyze.js";
import { S3VideoSource } from "./pipeline/fetch-video.js";
import { startDecoderAhead } from "./pipeline/decode/decoder.js";
import { S3Sink } from "./pipeline/report.js";
import { sweepStaleTempDirs } from "./pipeline/temp-dirs.js";
import { readGallery } from "./gallery/storage.js";
import { makeAnalyzer, openStudents, startEngine } from "./runtime.js";
import { type RunningServer, startFunctionServer } from "./server.js";

export const FUNCTION_NAME = "face-recognition";

export interface FunctionApp {
  handle: ReturnType<typeof createHandler>;
  analyzer: Analyzer;
  gallery: Gallery;
}

export async function createFunctionApp(config: FunctionConfig, logger: Logger): Promise<FunctionApp> {
  const s3 = createS3Client(config.s3);
  const swept = await sweepStaleTempDirs();
  if (swept.length > 0) logger.warn("removed temporary files of dead function processes", { folders: swept.length });
  const [engine, gallery, students] = await Promise.all([
    startEngine(config.recognition),
    readGallery(config.gallery, s3),
    openStudents(config.students, () => createDynamoClient(config.dynamo)),
  ]);
  if (config.token === undefined) logger.warn("FUNCTION_TOKEN is not set: requests are not authenticated");
  if (!engine.speedups.enabled && engine.speedups.versionMismatch)
    logger.warn("engine speedups off: stock face-api", { reason: engine.speedups.reason });
  const analyzer = makeAnalyzer(config.recognition, engine, gallery, students);
  // Readied while the server starts listening, not when the first video waits: ffmpeg is slow to
  // start (README, speed), and fluent-ffmpeg probes it before its first command in a process.
  startDecoderAhead(analyzer.frames);
  const handle = createHandler({
    source: new S3VideoSource(s3),
    sink: new S3Sink(s3, config.s3.outputBucket),
    analyze: oneAtATime((file: string, video: string, signal?: AbortSignal) =>
      analyzeVideo(file, video, analyzer, signal),
    ),
    inputBucket: config.s3.inputBucket,
    maxVideoBytes: config.recognition.maxVideoBytes,
    token: config.token,
    logger,
  });
  return { handle, analyzer, gallery };
}

/**
 * Decode and inference use this process's one core: two videos interleaved would both finish
 * late and hold two videos' frames in memory. Downloads and uploads of other requests still overlap.
 */
export function oneAtATime<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const result = tail.then(() => fn(...args));
    tail = result.catch(() => undefined);
    return result;
  };
}

export function serveFunction(app: FunctionApp, config: FunctionConfig, logger: Logger): Promise<RunningServer> {
  return startFunctionServer(app.handle, {
    host: config.host,
    port: config.port,
    functionName: FUNCTION_NAME,
    maxBodyBytes: 1024 * 1024,
    maxInflight: config.maxInflight,
    token: config.token,
    callbackHosts: config.callbackHosts,
    maxCallbacks: config.maxCallbacks,
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
  });
}
