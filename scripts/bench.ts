// npm run bench [-- --json] [--skip-workload] [--workload-mode first|all] [--classroom-only] [--classroom-scenes N]:
// the speed and memory figures, all measured in one run on this machine (needs the shared data;
// starts its own stack and stops it at the end):
//  - per CSE546 clip and stage, warm, `first` and `all` modes, through the real handler path
//    (download from Ceph RGW, decode, inference, student lookup in dynalite, upload);
//  - the floor: ffmpeg decode alone of the frames each mode needs + inference alone on them;
//  - the original design, through the same stages: download to disk, ffmpeg writes 1 fps JPEGs to
//    disk, each decoded, SSD, stop at first match, student lookup, upload;
//  - the CSE546 workload (8 + 100 uploads) through the stack: first upload → last CSV;
//  - cold start of a function process (start → ready to serve, warm-up included) and peak RSS;
//  - the engine's speedups against stock face-api (FACE_SPEEDUPS=off): start, 8 clips, peak RSS;
//  - the classroom case: `all` mode over composed 1080p scenes of 9 faces against ffmpeg decoding
//    the same frames (`--classroom-only`: that alone, in-process, no stack; N scenes, 4 unless set).
// Each part lives in scripts/bench/: stats, floor, original-design, modes, function-process, workload, classroom.
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { readSettings } from "../lib/config.js";
import { createLogger } from "../lib/log.js";
import { createS3Client } from "../lib/s3.js";
import { dataDir, DATA_ENV } from "../lib/shared-data.js";
import { createFunctionApp } from "../functions/face-recognition/app.js";
import { readFunctionConfig, readRecognitionSettings } from "../functions/face-recognition/config.js";
import { toMatchIndex } from "../functions/face-recognition/gallery/format.js";
import type { Mode } from "../functions/face-recognition/pipeline/recognize.js";
import { startEngine } from "../functions/face-recognition/runtime.js";
import { benchClassroom, type ClassroomSummary } from "./bench/classroom.js";
import { type ColdStart, coldStart, speedupsAgainstStock } from "./bench/function-process.js";
import { runModes } from "./bench/modes.js";
import type { OriginalIo } from "./bench/original-design.js";
import { median, round, sum } from "./bench/stats.js";
import { measureWorkload } from "./bench/workload.js";
import { cse546Clips } from "./eval/dataset.js";
import { stackDown, stackUp } from "./stack/stack.js";

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
// The cold start's median is of 9: a VM's speed drifts between runs.
const COLD_STARTS = 9;
const json = process.argv.includes("--json");
/** The stack's function runs the workload in this mode (`--workload-mode all` for the other). */
const workloadMode = process.argv.includes("--workload-mode")
  ? (process.argv[process.argv.indexOf("--workload-mode") + 1] as Mode)
  : "first";
const skipWorkload = process.argv.includes("--skip-workload");
const classroomOnly = process.argv.includes("--classroom-only");
const classroomScenes = process.argv.includes("--classroom-scenes")
  ? Number.parseInt(process.argv[process.argv.indexOf("--classroom-scenes") + 1] ?? "", 10)
  : 4;
if (!(classroomScenes >= 1)) throw new Error("--classroom-scenes takes a number of scenes, 1 or more");
const say = (line: string) => {
  if (!json) console.log(line);
};

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

  // Measured first, while this process is small: a spawn from a big process (engines, frames)
  // costs page faults before the function's process even exists.
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
  const { perMode, ratios } = await runModes({
    config,
    clips,
    bucket: benchIn,
    engine,
    ssd,
    index,
    app,
    originalIo,
    say,
  });
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

  const classroom = await benchClassroom({ data, engine, settings, scenes: classroomScenes, say });
  const workload = skipWorkload
    ? { skipped: true }
    : await measureWorkload(data, s3, { mode: workloadMode, stackEnv: BENCH_STACK_ENV, say });

  const summary = {
    backend: engine.backend,
    detector: engine.detector,
    modes: perMode,
    medianOursOverFloor: { first: median(ratios.first ?? []), all: median(ratios.all ?? []) },
    originalOverOurs: { total: originalTotal / firstTotal, median: median(ratios.originalOverFirst ?? []) },
    coldStartMs: { runs: readies.map(round), median: round(median(readies)) },
    firstVideoAfterColdStartMs: { runs: firstVideos.map(round), median: round(median(firstVideos)) },
    speedupsAgainstStock: engines,
    classroom,
    workload,
  };
  if (json) console.log(JSON.stringify(summary, null, 2));
  else
    say(
      `\nsummary: ${JSON.stringify({ medianOursOverFloor: summary.medianOursOverFloor, originalOverOurs: summary.originalOverOurs, coldStartMs: summary.coldStartMs.median, classroom: classroomBrief(classroom.total) })}`,
    );
}

/** The classroom case alone, in this process: no stack (it needs none). */
async function classroomAlone(): Promise<void> {
  const data = dataDir();
  if (!data) throw new Error(`the benchmark needs the shared data: set ${DATA_ENV}`);
  const settings = readSettings(process.env, readRecognitionSettings);
  const engine = await startEngine(settings);
  const classroom = await benchClassroom({ data, engine, settings, scenes: classroomScenes, say });
  if (json) console.log(JSON.stringify({ backend: engine.backend, detector: engine.detector, classroom }, null, 2));
  else say(`\nsummary: ${JSON.stringify({ classroom: classroomBrief(classroom.total) })}`);
}

function classroomBrief(total: ClassroomSummary["total"]) {
  return { msPerFrame: total.msPerFrame, oursOverFloor: total.oursOverFloor, named: `${total.named}/${total.known}` };
}

if (classroomOnly)
  classroomAlone()
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      console.error(`bench: ${(err as Error).message}`);
      process.exit(1);
    });
else
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
