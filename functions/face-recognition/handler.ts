// The OpenFaaS handler: `(event, context)` as in the Node templates. It knows nothing of HTTP
// servers (server.ts adapts requests to it) and nothing of SDK clients: it receives a video
// source, an analyzer and a report sink.
import { randomUUID } from "node:crypto";
import { describeError, type Logger } from "../../lib/log.js";
import { bearerCheck } from "./auth.js";
import type { WriteCondition } from "../../lib/s3.js";
import {
  AbandonedError,
  RequestError,
  VideoError,
  VideoNotFoundError,
  VideoSupersededError,
} from "./pipeline/errors.js";
import type { FetchedVideo, VideoSource } from "./pipeline/fetch-video.js";
import {
  ReportConflictError,
  type ReportSink,
  reportStem,
  type VideoResult,
  writeErrorReport,
  writeReport,
} from "./pipeline/report.js";
import { parseInvocation, type VideoRef } from "./invocation.js";

export interface FunctionEvent {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Aborted, with an AbandonedError, when the caller gives up or the request's deadline passes. */
  signal?: AbortSignal;
}

export interface FunctionContext {
  status(code: number): FunctionContext;
  headers(values: Record<string, string>): FunctionContext;
  succeed(value: unknown): unknown;
  fail(value: unknown): unknown;
}

export interface HandlerDeps {
  source: VideoSource;
  sink: ReportSink;
  analyze(file: string, video: string, signal?: AbortSignal): Promise<VideoResult>;
  inputBucket: string;
  maxVideoBytes: number;
  token?: string;
  logger: Logger;
}

export type Outcome =
  | { status: "succeeded"; bucket: string; key: string; outputs: string[]; result: VideoResult }
  /** The object was replaced by a newer upload: that upload's own run reports it. */
  | { status: "superseded"; bucket: string; key: string; reason: string; outputs: [] }
  | { status: "failed"; bucket: string; key: string; error: string; cause: FailureCause; outputs: string[] };

/** refused: the upload is not a usable video; missing: no such object; temporary: try again later. */
type FailureCause = "refused" | "missing" | "temporary";

export function createHandler(deps: HandlerDeps) {
  const authorized = bearerCheck(deps.token);

  return async function handle(event: FunctionEvent, context: FunctionContext): Promise<unknown> {
    const requestId = header(event, "x-call-id") ?? randomUUID();
    const log = deps.logger.child({ requestId });
    if (!authorized(header(event, "authorization"))) {
      log.warn("request refused: missing or wrong bearer token");
      return context.status(401).succeed({ error: "unauthorized" });
    }
    if (event.method !== "POST") return context.status(405).succeed({ error: "use POST with a JSON body" });

    let videos: VideoRef[];
    try {
      videos = parseInvocation(event.body, deps.inputBucket);
    } catch (err) {
      const message = err instanceof RequestError ? err.message : "the request body could not be read";
      log.warn("bad request", { error: message });
      return context.status(400).succeed({ error: message });
    }

    const outcomes: Outcome[] = [];
    for (const video of videos)
      outcomes.push(await processVideo(video, log.child({ videoKey: video.key }), event.signal));
    const status = Math.max(...outcomes.map(httpStatus));
    const body = outcomes.length === 1 ? present(outcomes[0] as Outcome) : { results: outcomes.map(present) };
    return context.status(status).succeed(body);
  };

  async function processVideo(requested: VideoRef, log: Logger, signal?: AbortSignal): Promise<Outcome> {
    const started = performance.now();
    log.info("video started", { bucket: requested.bucket });
    let video = requested;
    let fetched: FetchedVideo | undefined;
    try {
      ({ video, fetched } = await fetchVideo(requested));
      const downloadMs = Math.round(performance.now() - started);
      const result = await deps.analyze(fetched.file, video.key, signal);
      result.timingsMs = { download: downloadMs, ...result.timingsMs };
      const uploadStart = performance.now();
      const stem = reportStem(video.key);
      const outputs = await writeCurrent(video, fetched.etag, stem, (condition) =>
        writeReport(deps.sink, stem, result, condition),
      ).catch((err: unknown) => {
        if (err instanceof VideoSupersededError || err instanceof VideoNotFoundError) throw err;
        throw new Error(`could not write the report: ${describeError(err).error}`);
      });
      result.timingsMs.upload = Math.round(performance.now() - uploadStart);
      for (const warning of result.warnings) log.warn(warning);
      log.info("video done", {
        people: result.people.map((p) => p.name),
        unknownFaces: result.unknownFaces,
        frames: result.framesExamined,
        ms: Math.round(performance.now() - started),
      });
      return { status: "succeeded", bucket: video.bucket, key: video.key, outputs, result };
    } catch (err) {
      return failed(video, err, log);
    } finally {
      await fetched?.cleanup();
    }
  }

  // Ceph sends notification keys as they are, AWS URL-encodes them: try the key as given first.
  async function fetchVideo(video: VideoRef): Promise<{ video: VideoRef; fetched: FetchedVideo }> {
    const fetch = (ref: VideoRef) => deps.source.fetch(ref.bucket, ref.key, deps.maxVideoBytes, ref.etag);
    try {
      return { video, fetched: await fetch(video) };
    } catch (err) {
      const decoded = video.maybeEncoded ? decodeKey(video.key) : undefined;
      if (!(err instanceof VideoNotFoundError) || decoded === undefined || decoded === video.key) throw err;
      const actual = { ...video, key: decoded };
      return { video: actual, fetched: await fetch(actual) };
    }
  }

  /**
   * Writes the key's report only while the input object is still the content analysed, and only
   * over the report version read just before (the CSV, written conditionally): a newer upload's
   * report is never replaced by an older run's, whichever finishes last.
   */
  async function writeCurrent<T>(
    video: VideoRef,
    etag: string,
    stem: string,
    write: (condition: WriteCondition) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const replaces = (await deps.sink.version(`${stem}.csv`)) ?? null;
      const current = await deps.source.etag(video.bucket, video.key);
      if (current === undefined) throw new VideoNotFoundError(video.bucket, video.key);
      if (current !== etag) throw new VideoSupersededError(video.key, etag);
      try {
        return await write({ replaces });
      } catch (err) {
        if (!(err instanceof ReportConflictError) || attempt >= 3) throw err;
      }
    }
  }

  async function failed(video: VideoRef, err: unknown, log: Logger): Promise<Outcome> {
    const base = { bucket: video.bucket, key: video.key };
    if (err instanceof VideoSupersededError) {
      log.info("video superseded", { reason: err.message });
      return { ...base, status: "superseded", reason: err.message, outputs: [] };
    }
    if (err instanceof VideoError) {
      log.warn("video refused", { reason: err.message });
      try {
        const name = await writeErrorReport(deps.sink, reportStem(video.key), video.key, err.message);
        return { ...base, status: "failed", error: err.message, cause: "refused", outputs: [name] };
      } catch (writeErr) {
        log.error("could not write the error report", describeError(writeErr));
        return { ...base, status: "failed", error: err.message, cause: "temporary", outputs: [] };
      }
    }
    if (err instanceof AbandonedError) {
      log.warn("video abandoned", { reason: err.message });
      return { ...base, status: "failed", error: `abandoned: ${err.message}`, cause: "temporary", outputs: [] };
    }
    if (err instanceof VideoNotFoundError) {
      log.warn("video not found");
      return { ...base, status: "failed", error: err.message, cause: "missing", outputs: [] };
    }
    // Storage, database or engine trouble: the caller retries later; details stay in the log.
    log.error("video failed", describeError(err));
    return {
      ...base,
      status: "failed",
      error: `temporary failure: ${describeError(err).error}`,
      cause: "temporary",
      outputs: [],
    };
  }
}

function httpStatus(outcome: Outcome): number {
  if (outcome.status === "succeeded") return 200;
  if (outcome.status === "superseded") return 409;
  return { refused: 422, missing: 404, temporary: 503 }[outcome.cause];
}

function present(outcome: Outcome): unknown {
  return outcome.status === "succeeded"
    ? { status: outcome.status, bucket: outcome.bucket, key: outcome.key, outputs: outcome.outputs, ...outcome.result }
    : outcome;
}

function header(event: FunctionEvent, name: string): string | undefined {
  const value = event.headers[name] ?? event.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function decodeKey(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}
