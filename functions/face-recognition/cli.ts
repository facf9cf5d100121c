// facerec: the pipeline on local files, and the gallery and student-table chores.
//   recognize <video>… --gallery <file> [--students <json> | --table <name>] [--mode all|first] [--json]
//     (with neither --students nor --table, nor their variables, names come without major and year)
//   enroll <people-dir> --out <gallery.json>
//   enroll-video <video> --name <person> --out <gallery.json> [--from <s>] [--seconds <s>]
//   gallery import <encoding-file> --out <gallery.json>
//   students load <student_data.json> --table <name>
// Every option has an environment variable (credentials.env.example); options win. A .stack.env
// in the current folder (the local stack's) is read when present, so commands reach the stack.
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { config as loadDotenv } from "dotenv";
import { type Env, readSettings } from "../../lib/config.js";
import { readDynamoSettings } from "../../lib/cloud.js";
import { createDynamoClient } from "../../lib/dynamo.js";
import { redact } from "../../lib/log.js";
import { loadStudents } from "../../lib/students.js";
import { DEFAULT_STUDENTS_TABLE, readRecognitionSettings, readStudentSettings } from "./config.js";
import { ENROLLED_MODEL, enrollFolder, enrollFromVideo, type Progress } from "./enroll.js";
import { emptyGallery } from "./gallery/enrollment.js";
import { loadGallery, saveGallery } from "./gallery/storage.js";
import { importGalleryFile } from "./gallery-import/import.js";
import { analyzeVideo } from "./pipeline/analyze.js";
import { toCsv, type VideoResult } from "./pipeline/report.js";
import { makeAnalyzer, openStudents, startEngine } from "./runtime.js";

const USAGE = `usage: facerec <command>
  recognize <video>... --gallery <file> [--students <json> | --table <name>] [--mode all|first] [--json]
                       [--detector tiny|ssd] [--fps <n>] [--width <px>] [--threshold <d>]
  enroll <people-dir> --out <gallery.json>
  enroll-video <video> --name <person> --out <gallery.json> [--from <s>] [--seconds <s>]
  gallery import <encoding-file> --out <gallery.json>
  students load <student_data.json> --table <name>`;

/** Command-line option → the environment variable it overrides. */
const OPTION_ENV: Record<string, string> = {
  gallery: "GALLERY",
  students: "STUDENTS_FILE",
  table: "STUDENTS_TABLE",
  mode: "RECOGNITION_MODE",
  detector: "DETECTOR",
  fps: "SAMPLE_FPS",
  width: "FRAME_WIDTH",
  threshold: "MATCH_THRESHOLD",
};

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      gallery: { type: "string" },
      students: { type: "string" },
      table: { type: "string" },
      mode: { type: "string" },
      detector: { type: "string" },
      fps: { type: "string" },
      width: { type: "string" },
      threshold: { type: "string" },
      json: { type: "boolean", default: false },
      out: { type: "string" },
      name: { type: "string" },
      from: { type: "string" },
      seconds: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const env: Env = { ...process.env };
  for (const [option, name] of Object.entries(OPTION_ENV)) {
    const value = values[option as keyof typeof values];
    if (typeof value === "string") env[name] = value;
  }
  const [command, ...args] = positionals;
  switch (command) {
    case "recognize":
      return recognize(args, env, values.json ?? false);
    case "enroll":
      return enroll(args, env, required(values.out, "--out"));
    case "enroll-video":
      return enrollVideo(args, env, {
        out: required(values.out, "--out"),
        name: required(values.name, "--name"),
        from: Number(values.from ?? 0),
        seconds: Number(values.seconds ?? 10),
      });
    case "gallery":
      if (args[0] !== "import" || !args[1]) throw new UsageError("gallery import <encoding-file> --out <gallery.json>");
      return importGallery(args[1], required(values.out, "--out"));
    case "students":
      if (args[0] !== "load" || !args[1]) throw new UsageError("students load <student_data.json> --table <name>");
      return loadStudentsTable(args[1], env);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function required(value: string | undefined, option: string): string {
  if (!value) throw new UsageError(`${option} is required`);
  return value;
}

async function recognize(videos: string[], env: Env, json: boolean): Promise<number> {
  if (videos.length === 0) throw new UsageError("recognize needs at least one video");
  const settings = readSettings(env, (read) => ({
    recognition: readRecognitionSettings(read),
    students: readStudentSettings(read),
    gallery: read.string("GALLERY"),
    dynamo: readDynamoSettings(read),
  }));
  if (settings.students.kind === "none")
    console.error("facerec: no students source (--students <json> or --table <name>): major and year left empty");
  // Models load once for all the videos.
  const [engine, gallery, students] = await Promise.all([
    startEngine(settings.recognition),
    loadGallery(settings.gallery),
    openStudents(settings.students, () => createDynamoClient(settings.dynamo)),
  ]);
  const analyzer = makeAnalyzer(settings.recognition, engine, gallery, students);
  let failures = 0;
  for (const video of videos) {
    let result: VideoResult;
    try {
      const { size } = await stat(video);
      const limit = settings.recognition.maxVideoBytes;
      if (size > limit)
        throw new Error(`the file is ${size} bytes, over the limit of ${limit} bytes (MAX_VIDEO_BYTES)`);
      result = await analyzeVideo(video, video, analyzer);
    } catch (err) {
      failures++;
      console.error(`facerec: ${video}: ${redact((err as Error).message)}`);
      continue;
    }
    for (const warning of result.warnings) console.error(`facerec: ${video}: warning: ${warning}`);
    if (json) {
      const { mode: _mode, warnings: _warnings, ...fields } = result;
      console.log(JSON.stringify(fields));
    } else {
      if (videos.length > 1) console.log(`# ${video}`);
      process.stdout.write(toCsv(result.people));
    }
  }
  return failures > 0 ? 1 : 0;
}

async function enroll(args: string[], env: Env, out: string): Promise<number> {
  const dir = args[0];
  if (!dir) throw new UsageError("enroll <people-dir> --out <gallery.json>");
  const recognition = readSettings(env, readRecognitionSettings);
  const engine = await startEngine(recognition);
  const report = await enrollFolder(engine, dir, progressBar());
  for (const s of report.skipped) console.error(`facerec: skipped ${s.file}: ${s.reason}`);
  await saveGallery(out, report.gallery);
  const photos = report.enrolled.reduce((n, p) => n + p.photos, 0);
  console.error(
    `facerec: enrolled ${report.enrolled.length} people from ${photos} photos into ${out}; skipped ${report.skipped.length}`,
  );
  return report.enrolled.length > 0 ? 0 : 1;
}

async function enrollVideo(
  args: string[],
  env: Env,
  options: { out: string; name: string; from: number; seconds: number },
): Promise<number> {
  const video = args[0];
  if (!video) throw new UsageError("enroll-video <video> --name <person> --out <gallery.json>");
  if (!(options.from >= 0) || !(options.seconds > 0)) throw new UsageError("--from must be ≥ 0 and --seconds > 0");
  const engine = await startEngine(readSettings(env, readRecognitionSettings));
  const gallery = existsSync(options.out) ? await loadGallery(options.out) : emptyGallery(ENROLLED_MODEL);
  const result = await enrollFromVideo(engine, gallery, video, {
    name: options.name,
    startSeconds: options.from,
    durationSeconds: options.seconds,
    samples: 5,
  });
  await saveGallery(options.out, result.gallery);
  console.error(
    `facerec: enrolled ${options.name} from ${result.used} frames of ${basename(video)} (${result.skippedFrames} frames skipped)`,
  );
  return 0;
}

async function importGallery(file: string, out: string): Promise<number> {
  const gallery = await importGalleryFile(file);
  await saveGallery(out, gallery);
  console.error(`facerec: imported ${gallery.people.length} people (${gallery.model}) into ${out}`);
  return 0;
}

async function loadStudentsTable(file: string, env: Env): Promise<number> {
  const settings = readSettings(env, (read) => ({
    table: read.string("STUDENTS_TABLE", DEFAULT_STUDENTS_TABLE),
    dynamo: readDynamoSettings(read),
  }));
  const loaded = await loadStudents(createDynamoClient(settings.dynamo), settings.table, file);
  for (const c of loaded.corrections) console.error(`facerec: ${c.name}: year "${c.from}" loaded as "${c.to}"`);
  console.error(
    `facerec: loaded ${loaded.count} students into table ${settings.table}${loaded.created ? " (created)" : ""}`,
  );
  return 0;
}

/** A progress bar on a terminal; nothing when stderr is a pipe or a file. */
function progressBar(): Progress | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total, file) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    process.stderr.write(
      `\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} ${file.padEnd(30).slice(0, 30)}`,
    );
    if (done === total) process.stderr.write("\n");
  };
}

// The local stack's settings, when run from a checkout with the stack up (never overrides the environment).
const envFile = resolve(".stack.env");
if (existsSync(envFile)) loadDotenv({ path: envFile, quiet: true });

// Exit explicitly: keep-alive sockets and the tfjs runtime would otherwise hold the process open.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) console.error(`facerec: ${err.message}\n${USAGE}`);
    else console.error(`facerec: ${redact((err as Error).message)}`);
    process.exit(2);
  },
);
