// npm run bench [-- --json] [--skip-workload] [--workload-mode first|all]: the speed and memory figures, all measured in one
// run on this machine (needs the shared data; starts its own stack and stops it at the end):
//  - per CSE546 clip and stage, warm, `first` and `all` modes, through the real handler path
//    (download from Ceph RGW, decode, inference, student lookup in dynalite, upload);
//  - the floor: ffmpeg decode alone of the frames each mode needs + inference alone on them;
//  - the original design, through the same stages: download to disk, ffmpeg writes 1 fps JPEGs to
//    disk, each decoded, SSD, stop at first match, student lookup, upload;
//  - the CSE546 workload (8 + 100 uploads) through the stack: first upload → last CSV;
//  - cold start of a function process (start → ready to serve, warm-up included) and peak RSS;
//  - the engine's speedups against stock face-api (FACE_SPEEDUPS=off): start, 8 clips, peak RSS.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { httpStatus } from "../lib/net.js";
import { poll } from "../lib/wait.js";
import { readSettings } from "../lib/config.js";
import { createLogger } from "../lib/log.js";
import { createS3Client, downloadObject, putText } from "../lib/s3.js";
import { createFunctionApp } from "../functions/face-recognition/app.js";
import { readFunctionConfig, readRecognitionSettings } from "../functions/face-recognition/config.js";
import { toMatchIndex } from "../functions/face-recognition/gallery/format.js";
import type { FunctionContext, FunctionEvent } from "../functions/face-recognition/handler.js";
import type { FaceEngine } from "../functions/face-recognition/pipeline/faces.js";
import { startDecoder } from "../functions/face-recognition/pipeline/ffmpeg.js";
import { type Frame, type FrameOptions, readFrames } from "../functions/face-recognition/pipeline/frames.js";
import { judgeFace, type MatchIndex, type MatchRules } from "../functions/face-recognition/pipeline/match.js";
import type { Mode } from "../functions/face-recognition/pipeline/recognize.js";
import type { SpeedupSetting } from "../functions/face-recognition/pipeline/engine/speedups.js";
import { toCsv } from "../functions/face-recognition/pipeline/report.js";
import type { StudentDirectory } from "../functions/face-recognition/pipeline/students.js";
import { startEngine } from "../functions/face-recognition/runtime.js";
import { dataDir, DATA_ENV } from "../lib/shared-data.js";
import { childrenOf, commandLine } from "../lib/process.js";
import { cse546Clips, type LabeledVideo } from "./eval/dataset.js";
import { stackDown, stackStatus, stackUp } from "./stack/stack.js";
import { cse546Uploads, runWorkload } from "./workload.js";

const run = promisify(execFile);
/** The bench's own stack, beside any stack the user has up. */
const BENCH_STACK_ENV = {
  ...process.env,
  STACK_DIR: join(tmpdir(), "facerec-bench-stack"),
  STACK_RGW_PORT: "17480",
  STACK_MON_PORT: "13300",
  STACK_MON_V1_PORT: "16789",
  STACK_MS_PORT_MIN: "17500",
  STACK_MS_PORT_MAX: "17599",
  STACK_DYNAMODB_PORT: "14567",
  STACK_FUNCTION_PORT: "18080",
  STACK_TRIGGER_PORT: "18090",
};
const REPEATS = 3;
// The cold start's median is of 5: a start is ~1.1 s, and this VM's speed drifts between runs.
const COLD_STARTS = 5;
const json = process.argv.includes("--json");
/** The stack's function runs the workload in this mode (`--workload-mode all` for the other). */
const workloadMode = process.argv.includes("--workload-mode")
  ? (process.argv[process.argv.indexOf("--workload-mode") + 1] as Mode)
  : "first";
const skipWorkload = process.argv.includes("--skip-workload");
const say = (line: string) => {
  if (!json) console.log(line);
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const round = (x: number) => Math.round(x);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const value = await fn();
  return [value, performance.now() - t];
}

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

async function floor(engine: FaceEngine, clip: LabeledVideo, options: FrameOptions, mode: Mode) {
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

/** Where the original design reads its video and writes its CSV: the same services and clients as ours. */
interface OriginalIo {
  s3: S3Client;
  inputBucket: string;
  outputBucket: string;
  students: StudentDirectory;
}

/**
 * The original system's design, with the same models: the video downloaded to disk, JPEG files on
 * disk at 1 fps, SSD, sequential, the first match answers; then the student looked up and the CSV
 * uploaded, as ours does (its time is measured through the same stages).
 */
async function originalDesign(
  engine: FaceEngine,
  clip: LabeledVideo,
  index: MatchIndex,
  rules: MatchRules,
  io: OriginalIo,
  repeats = REPEATS,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const dir = await mkdtemp(join(tmpdir(), "bench-original-"));
    const [, ms] = await timed(async () => {
      const video = join(dir, `${clip.id}.mp4`);
      await downloadObject(io.s3, io.inputBucket, `${clip.id}.mp4`, video);
      await run("ffmpeg", ["-v", "error", "-i", video, "-vf", "fps=1", join(dir, "%03d.jpg")]);
      let name: string | undefined;
      for (const jpeg of (await readdir(dir)).filter((f) => f.endsWith(".jpg")).sort()) {
        for await (const frame of readFrames(join(dir, jpeg), {
          fps: 0,
          maxWidth: 10_000,
          maxSeconds: 1,
          maxPixels: 64_000_000,
        })) {
          for (const face of await engine.detect(frame)) {
            const verdict = judgeFace(index, face, rules);
            if (verdict.kind === "known") name ??= verdict.name;
          }
        }
        if (name) break;
      }
      const student = name ? await io.students.find(name) : undefined;
      await putText(io.s3, io.outputBucket, `original-${clip.id}.csv`, toCsv(student ? [student] : []), "text/csv");
    });
    await rm(dir, { recursive: true, force: true });
    times.push(ms);
  }
  return median(times);
}

class BenchContext implements FunctionContext {
  code = 200;
  status(code: number) {
    this.code = code;
    return this;
  }
  headers() {
    return this;
  }
  succeed(value: unknown) {
    return value;
  }
  fail(value: unknown) {
    return value;
  }
}

interface ColdStart {
  /** Process start → ready to serve. */
  readyMs: number;
  /** Then one video, sent at once: start → its CSV written. */
  firstVideoMs: number;
}

/** A function process started as the stack and the image start it, then sent one video at once. */
interface FunctionProcess {
  pid: number;
  /** Process start → ready to serve (warm-up included). */
  readyMs: number;
  /** One video through the process's server: resolves with start → its CSV written. */
  send(video: { bucket: string; key: string }): Promise<number>;
  /** Gone, with its ffmpeg host, before anything else is timed. */
  stop(): Promise<void>;
}

/** A function process started from the bundle (npm run build, which setup runs), timed to ready. */
async function startFunctionProcess(env: NodeJS.ProcessEnv, token?: string): Promise<FunctionProcess> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const started = performance.now();
  const child = spawn(process.execPath, ["dist/function.mjs"], {
    env: { ...env, PORT: String(port), WORKERS: "1", LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  let readyMs: number;
  try {
    readyMs = await poll(
      `the function to answer ${url}/_/health`,
      async () => ((await httpStatus(`${url}/_/health`)) === 200 ? performance.now() - started : undefined),
      60_000,
      5,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const send = async (video: { bucket: string; key: string }) => {
    const sent = performance.now();
    const res = await fetch(`${url}/`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(video),
    });
    const outcome = (await res.json()) as { status?: string; error?: string };
    if (!res.ok || outcome.status !== "succeeded")
      throw new Error(`the function process failed ${video.key}: ${res.status} ${outcome.error ?? ""}`);
    return performance.now() - sent;
  };
  return { pid: child.pid as number, readyMs, send, stop };
}

async function coldStart(
  env: NodeJS.ProcessEnv,
  video: { bucket: string; key: string },
  token?: string,
): Promise<ColdStart> {
  const fn = await startFunctionProcess(env, token);
  try {
    return { readyMs: fn.readyMs, firstVideoMs: await fn.send(video) };
  } finally {
    await fn.stop();
  }
}

interface EngineRun {
  speedups: SpeedupSetting;
  readyMs: number[];
  allClipsMs: number;
  peakRssMb: number;
}

/**
 * The engine with its speedups against stock face-api (FACE_SPEEDUPS=off): function processes of
 * their own, started alternately; then the 8 clips in `all` mode through one process of each.
 */
async function speedupsAgainstStock(
  env: NodeJS.ProcessEnv,
  videos: { bucket: string; key: string }[],
  token?: string,
): Promise<EngineRun[]> {
  const settings = ["auto", "off"] as const;
  const readies = new Map<SpeedupSetting, number[]>(settings.map((s) => [s, []]));
  for (let i = 0; i < REPEATS; i++) {
    for (const speedups of settings) {
      const fn = await startFunctionProcess({ ...env, FACE_SPEEDUPS: speedups }, token);
      readies.get(speedups)?.push(fn.readyMs);
      await fn.stop();
    }
  }
  const runs: EngineRun[] = [];
  for (const speedups of settings) {
    const fn = await startFunctionProcess({ ...env, FACE_SPEEDUPS: speedups, RECOGNITION_MODE: "all" }, token);
    try {
      if (videos[0]) await fn.send(videos[0]);
      const passes: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        let total = 0;
        for (const video of videos) total += await fn.send(video);
        passes.push(total);
      }
      runs.push({
        speedups,
        readyMs: (readies.get(speedups) ?? []).map(round),
        allClipsMs: round(median(passes)),
        peakRssMb: round(await peakRss(fn.pid)),
      });
    } finally {
      await fn.stop();
    }
  }
  return runs;
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  const data = dataDir();
  if (!data) throw new Error(`the benchmark needs the shared data: set ${DATA_ENV}`);
  say("bringing a bench stack up (its own folder and ports) ...");
  // Inherited by the stack's function processes: the workload's mode.
  process.env.RECOGNITION_MODE = workloadMode;
  const stack = await stackUp({ env: BENCH_STACK_ENV, log: say });
  Object.assign(process.env, stack.env);
  const benchIn = `bench-in-${Date.now().toString(36)}`;
  const benchOut = `bench-out-${Date.now().toString(36)}`;
  const env = { ...process.env, INPUT_BUCKET: benchIn, OUTPUT_BUCKET: benchOut, WORKERS: "1", PORT: "0" };
  const config = readFunctionConfig(env);
  const s3 = createS3Client(config.s3);
  await s3.send(new CreateBucketCommand({ Bucket: benchIn }));
  await s3.send(new CreateBucketCommand({ Bucket: benchOut }));
  const clips = await cse546Clips(data);
  for (const clip of clips) {
    await s3.send(new PutObjectCommand({ Bucket: benchIn, Key: `${clip.id}.mp4`, Body: await readFile(clip.file) }));
  }

  // Measured first, while this process is small: spawning from it after the runs below (engines,
  // frames: ~0.6 GB) takes ~25 ms instead of ~6, before the function's process even exists.
  const colds: ColdStart[] = [];
  const firstClip = { bucket: benchIn, key: `${clips[0]?.id}.mp4` };
  for (let i = 0; i < COLD_STARTS; i++) colds.push(await coldStart(env, firstClip, config.token));
  const videos = clips.map((clip) => ({ bucket: benchIn, key: `${clip.id}.mp4` }));
  const engines = await speedupsAgainstStock(env, videos, config.token);

  const app = await createFunctionApp(config, createLogger("bench", { level: "warn" }));
  const engine = app.analyzer.engine;
  const index = toMatchIndex(app.gallery);
  const settings = readSettings(process.env, readRecognitionSettings);
  const ssd = await startEngine({ ...settings, detector: "ssd" });

  const originalIo: OriginalIo = {
    s3,
    inputBucket: benchIn,
    outputBucket: benchOut,
    students: app.analyzer.students,
  };
  const perMode: Record<string, unknown[]> = {};
  const ratios: Record<string, number[]> = { first: [], all: [], originalOverFirst: [] };
  for (const mode of ["first", "all"] as const) {
    const handleApp = await createFunctionApp(
      { ...config, recognition: { ...config.recognition, mode } },
      createLogger("bench", { level: "warn" }),
    );
    const rows: Record<string, number | string>[] = [];
    const invoke = (clip: LabeledVideo) => {
      const event: FunctionEvent = {
        body: JSON.stringify({ bucket: benchIn, key: `${clip.id}.mp4` }),
        headers: {},
        method: "POST",
        path: "/",
        query: {},
      };
      return handleApp.handle(event, new BenchContext());
    };
    // Warm: the first video with faces runs code paths the engines' warm-up (a blank image) cannot.
    if (clips[0]) {
      await invoke(clips[0]);
      if (mode === "first") await originalDesign(ssd, clips[0], index, app.analyzer.rules, originalIo, 1);
    }
    say(`\n## ${mode} mode (warm, median of ${REPEATS}; ms)`);
    say("clip     download decode inference lookup upload  total | floor: decode inference total | ours/floor");
    for (const clip of clips) {
      const runs: { timings: Record<string, number>; total: number }[] = [];
      for (let i = 0; i < REPEATS; i++) {
        const [result, total] = await timed(() => invoke(clip));
        runs.push({ timings: (result as { timingsMs: Record<string, number> }).timingsMs, total });
      }
      const stage = (name: string) => median(runs.map((r) => r.timings[name] ?? 0));
      const total = median(runs.map((r) => r.total));
      const f = await floor(engine, clip, app.analyzer.frames, mode);
      const row: Record<string, number | string> & { oursOverFloor: number } = {
        clip: clip.id,
        download: round(stage("download")),
        decode: round(stage("decode")),
        inference: round(stage("inference")),
        lookup: round(stage("students")),
        upload: round(stage("upload")),
        total: round(total),
        floorDecode: round(f.decode),
        floorInference: round(f.inference),
        floor: round(f.total),
        oursOverFloor: Number((total / f.total).toFixed(2)),
      };
      ratios[mode]?.push(row.oursOverFloor);
      let originalNote = "";
      if (mode === "first") {
        const original = await originalDesign(ssd, clip, index, app.analyzer.rules, originalIo);
        row.original = round(original);
        row.originalOverOurs = Number((original / total).toFixed(2));
        originalNote = `   original design ${row.original} ms (${row.originalOverOurs}× ours)`;
        ratios.originalOverFirst?.push(original / total);
      }
      rows.push(row);
      say(
        `${clip.id.padEnd(8)} ${String(row.download).padStart(8)} ${String(row.decode).padStart(6)} ${String(row.inference).padStart(9)} ${String(row.lookup).padStart(6)} ${String(row.upload).padStart(6)} ${String(row.total).padStart(6)} | ${String(row.floorDecode).padStart(13)} ${String(row.floorInference).padStart(9)} ${String(row.floor).padStart(5)} | ${row.oursOverFloor.toFixed(2).padStart(10)}${originalNote}`,
      );
    }
    const totals = rows.map((r) => r.total as number);
    say(`all 8: ${round(sum(totals))} ms; median ours/floor ${median(ratios[mode] ?? []).toFixed(2)}`);
    perMode[mode] = rows;
  }
  const originalTotal = sum((perMode.first as { original: number }[]).map((r) => r.original));
  const firstTotal = sum((perMode.first as { total: number }[]).map((r) => r.total));
  say(
    `\noriginal design: ${round(originalTotal)} ms for the 8 clips; ours (first): ${round(firstTotal)} ms → ${(originalTotal / firstTotal).toFixed(2)}× faster`,
  );

  const readies = colds.map((c) => c.readyMs);
  const firstVideos = colds.map((c) => c.firstVideoMs);
  say(
    `cold start (process start → ready, warm-up included): ${readies.map(round).join(", ")} ms (median ${round(median(readies))})`,
  );
  say(
    `  then ${firstClip.key}, sent at once: ${firstVideos.map(round).join(", ")} ms (median ${round(median(firstVideos))}; warm, above: ${(perMode.first as { total: number }[])[0]?.total} ms)`,
  );

  say(`\n## the engine's speedups against stock face-api (${engine.backend}; function processes of their own)`);
  say("FACE_SPEEDUPS  start → ready (ms, each run)  8 clips, all mode (ms, median of 3)  peak RSS (MB)");
  for (const run of engines) {
    say(
      `${run.speedups.padEnd(13)} ${run.readyMs.join(", ").padStart(28)} ${String(run.allClipsMs).padStart(38)} ${String(run.peakRssMb).padStart(14)}`,
    );
  }
  const [fast, stock] = engines;
  if (fast && stock)
    say(
      `stock / speedups: start ${(median(stock.readyMs) / median(fast.readyMs)).toFixed(2)}×, 8 clips ${(stock.allClipsMs / fast.allClipsMs).toFixed(2)}×, peak RSS ${(stock.peakRssMb / fast.peakRssMb).toFixed(2)}×`,
    );

  let workload: Record<string, unknown> = { skipped: true };
  if (!skipWorkload) {
    const uploads = await cse546Uploads(data);
    say(
      `\nworkload: ${uploads.length} uploads through the stack (trigger → function in ${workloadMode} mode → output bucket) ...`,
    );
    const { outcomes, totalMs } = await runWorkload(uploads, {
      s3,
      inputBucket: process.env.INPUT_BUCKET ?? "input",
      outputBucket: process.env.OUTPUT_BUCKET ?? "output",
      timeoutMs: 600_000,
      concurrency: 8,
      // The watcher's own listing is load on the same 2 cores: look 4 times a second.
      pollMs: 250,
    });
    const correct = outcomes.filter((o) => o.correct).length;
    const status = await stackStatus({ env: BENCH_STACK_ENV });
    const functionPids = status.components.find((c) => c.name === "function")?.pids ?? [];
    const pids = [...functionPids, ...functionPids.flatMap(childrenOf)];
    const rss = await Promise.all(pids.map(peakRss));
    // Each process that decodes has its ffmpeg host (pipeline/ffmpeg-host.ts) beside it.
    const hostPids = pids.flatMap(childrenOf).filter((pid) => commandLine(pid).includes("ffmpeg-host"));
    const hostRss = await Promise.all(hostPids.map(peakRss));
    workload = {
      mode: workloadMode,
      uploads: uploads.length,
      correct,
      seconds: Number((totalMs / 1000).toFixed(1)),
      videosPerSecond: Number((uploads.length / (totalMs / 1000)).toFixed(2)),
      peakRssMbPerProcess: rss.map(round),
      peakRssMbPerFfmpegHost: hostRss.map(round),
    };
    say(
      `workload: ${correct}/${uploads.length} correct in ${(totalMs / 1000).toFixed(1)} s (${workload.videosPerSecond} videos/s); peak RSS per function process: ${rss.map(round).join(", ")} MB (their ffmpeg hosts: ${hostRss.map(round).join(", ")} MB)`,
    );
  }

  const summary = {
    backend: engine.backend,
    detector: engine.detector,
    modes: perMode,
    medianOursOverFloor: { first: median(ratios.first ?? []), all: median(ratios.all ?? []) },
    originalOverOurs: { total: originalTotal / firstTotal, median: median(ratios.originalOverFirst ?? []) },
    coldStartMs: { runs: readies.map(round), median: round(median(readies)) },
    firstVideoAfterColdStartMs: { runs: firstVideos.map(round), median: round(median(firstVideos)) },
    speedupsAgainstStock: engines,
    workload,
  };
  if (json) console.log(JSON.stringify(summary, null, 2));
  else
    say(
      `\nsummary: ${JSON.stringify({ medianOursOverFloor: summary.medianOursOverFloor, originalOverOurs: summary.originalOverOurs, coldStartMs: summary.coldStartMs.median })}`,
    );
}

main()
  .then(async () => {
    await stackDown({ env: BENCH_STACK_ENV });
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    await stackDown({ env: BENCH_STACK_ENV }).catch(() => undefined);
    process.exit(1);
  });
