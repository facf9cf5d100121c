// The local stack, as functions (the CLI, the demo and the e2e tests call them): Ceph RGW with
// the S3 user and buckets, dynalite with the students table, the function server and the trigger
// daemon, all on 127.0.0.1, state in one dir. Idempotent: what already runs (with the same
// settings) is kept, what is down is started. Settings: scripts/stack/config.ts.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cephStatus, startCeph, stopCeph } from "../../ceph/local/cluster.js";
import { stopPidFile } from "../../ceph/local/daemon.js";
import type { Env } from "../../lib/config.js";
import {
  connectionEnv,
  ENV_FILE_HEADER,
  endpoints,
  GALLERY_BUCKET,
  readStackConfig,
  REGION,
  renderEnvFile,
  STACK_KEYS,
  type StackConfig,
  type StackOptions,
  type StackService,
  stackPaths,
} from "./config.js";
import { dynaliteStatus, startDynalite, stopDynalite } from "./dynalite.js";
import { runScript, type ServiceSpec, serviceStatus, startService, stopService } from "./services.js";
import { isAlive } from "../../lib/process.js";

export { STACK_ENV_FILE, type StackConfig, type StackOptions } from "./config.js";

export type StackRunOptions = StackOptions & {
  /** Where STACK_* and the other settings are read from (default process.env). */
  env?: Env;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
};

export interface ComponentStatus {
  name: StackService;
  /** off: not in STACK_SERVICES. partial: some of its processes run, or it runs but does not answer. */
  state: "up" | "down" | "partial" | "off";
  pids: number[];
  url: string;
  log: string;
}

export interface StackInfo {
  config: StackConfig;
  /** The connection settings, also written to config.envFile. */
  env: Record<string, string>;
  components: ComponentStatus[];
  /** What this call started or restarted; empty when everything was already up. */
  started: string[];
  tookMs: number;
}

const FUNCTION_PATH = "/function/face-recognition";

/** Brings the stack up, or repairs what is down; resolves when every selected service answers. */
export async function stackUp(options: StackRunOptions = {}): Promise<StackInfo> {
  const started = Date.now();
  const config = readStackConfig(options.env ?? process.env, options);
  const log = options.log ?? ((line: string) => console.log(line));
  const p = stackPaths(config.dir);
  assertStackDir(config.dir);
  mkdirSync(config.dir, { recursive: true });
  return withLock(config.dir, async () => {
    writeFileSync(p.state, `${JSON.stringify(config, null, 2)}\n`);
    const has = (service: StackService) => config.services.includes(service);
    const gallery = config.galleryFile ?? p.gallery;
    const env = connectionEnv(config, gallery);
    const marker = config.dir;
    const startedNow: string[] = [];
    const note = (name: string, reused: boolean) => {
      if (!reused) startedNow.push(name);
    };

    // Independent of each other: Ceph, dynalite + students, the gallery import.
    await settleAll([
      has("ceph") &&
        startCeph({
          dataDir: p.ceph,
          ports: config.ports,
          accessKey: STACK_KEYS.s3AccessKey,
          secretKey: STACK_KEYS.s3SecretKey,
          buckets: [config.inputBucket, config.outputBucket, GALLERY_BUCKET],
        }).then((ceph) => {
          note("ceph", ceph.reused);
          log(`ceph ${ceph.reused ? "already up" : "started"}: ${ceph.endpoint}`);
        }),
      has("dynamodb") && startStudents(config, env, log).then((reused) => note("dynamodb", reused)),
      has("function") && !config.galleryFile && importGallery(config, log).then((reused) => note("gallery", reused)),
    ]);
    if (has("ceph") && existsSync(gallery)) await putGallery(env, gallery);
    writeFileSync(config.envFile, renderEnvFile(env));

    if (has("function")) {
      const fn = await startService(functionSpec(config, env), serviceFiles(config, "function"));
      note("function", fn.reused);
      log(
        `function ${fn.reused ? "already up" : `started in ${fn.ms} ms`}: ${endpoints(config.ports).openfaas}${FUNCTION_PATH}`,
      );
    }
    if (has("trigger")) {
      const trigger = await startService(triggerSpec(config, env), serviceFiles(config, "trigger"));
      note("trigger", trigger.reused);
      log(
        `trigger ${trigger.reused ? "already up" : `started in ${trigger.ms} ms`}: ${endpoints(config.ports).trigger}`,
      );
      if (!trigger.reused && has("ceph")) {
        // Pushes only make the trigger prompt (it polls anyway): a failure here is a warning.
        await runScript("trigger", ["setup-notifications"], {
          env: triggerSpec(config, env).env,
          logFile: p.logFile("setup-notifications"),
          marker,
          timeoutMs: 60_000,
        }).then(
          () => log("bucket notifications: input bucket → trigger"),
          (error: unknown) =>
            log(`warning: bucket notifications not set up (polling still works): ${(error as Error).message}`),
        );
      }
    }
    const components = await componentStatus(config);
    return { config, env, components, started: startedNow, tookMs: Date.now() - started };
  });
}

/** Stops every process the stack started (by pid) and removes its dir and its env file. */
export async function stackDown(options: StackRunOptions = {}): Promise<{ stopped: string[]; tookMs: number }> {
  const started = Date.now();
  const fromEnv = readStackConfig(options.env ?? process.env, options);
  // The settings `up` used win: the ports and env file of the stack that runs.
  const config = readSavedConfig(fromEnv.dir) ?? fromEnv;
  const p = stackPaths(config.dir);
  assertStackDir(config.dir);
  const stopped: string[] = [];
  if (existsSync(config.dir)) {
    await withLock(config.dir, async () => {
      // Consumers first, so nothing calls a service that is already gone.
      if (await stopService(triggerSpec(config, {}), serviceFiles(config, "trigger"))) stopped.push("trigger");
      if (await stopService(functionSpec(config, {}), serviceFiles(config, "function"))) stopped.push("function");
      if ((await dynaliteStatus(dynaliteFiles(config))).running) stopped.push("dynamodb");
      await stopDynalite(dynaliteFiles(config));
      // Anything else that left a pid file (a service since removed from STACK_SERVICES...).
      const runDir = join(config.dir, "run");
      for (const file of existsSync(runDir) ? readdirSync(runDir).filter((f) => f.endsWith(".pid")) : []) {
        if ((await stopPidFile(join(runDir, file), config.dir, 10_000)).length > 0)
          stopped.push(basename(file, ".pid"));
      }
      if ((await cephStatus(p.ceph)).state !== "down") stopped.push("ceph");
      await stopCeph(p.ceph);
    });
    rmSync(config.dir, { recursive: true, force: true });
  }
  if (existsSync(config.envFile) && readFileSync(config.envFile, "utf8").startsWith(ENV_FILE_HEADER)) {
    rmSync(config.envFile);
  }
  return { stopped, tookMs: Date.now() - started };
}

export async function stackStatus(options: StackRunOptions = {}): Promise<StackInfo> {
  const started = Date.now();
  const fromEnv = readStackConfig(options.env ?? process.env, options);
  const config = readSavedConfig(fromEnv.dir) ?? fromEnv;
  const env = connectionEnv(config, config.galleryFile ?? stackPaths(config.dir).gallery);
  return { config, env, components: await componentStatus(config), started: [], tookMs: Date.now() - started };
}

async function componentStatus(config: StackConfig): Promise<ComponentStatus[]> {
  const p = stackPaths(config.dir);
  const urls = endpoints(config.ports);
  const off = (name: StackService) => !config.services.includes(name);
  const ceph = await cephStatus(p.ceph);
  const dynamo = await dynaliteStatus(dynaliteFiles(config));
  const services = await Promise.all(
    (["function", "trigger"] as const).map(async (name) => {
      const spec = name === "function" ? functionSpec(config, {}) : triggerSpec(config, {});
      return serviceStatus(spec, serviceFiles(config, name));
    }),
  );
  const state = (running: boolean, answers: boolean, name: StackService): ComponentStatus["state"] =>
    answers && running ? "up" : running || answers ? "partial" : off(name) ? "off" : "down";
  const [fn, trigger] = services;
  return [
    {
      name: "ceph",
      state: ceph.state === "down" && off("ceph") ? "off" : ceph.state,
      pids: ceph.daemons.filter((d) => d.running).map((d) => d.pid ?? 0),
      url: urls.s3,
      log: join(p.ceph, "log"),
    },
    {
      name: "dynamodb",
      state: state(dynamo.running, dynamo.answers, "dynamodb"),
      pids: dynamo.running && dynamo.pid ? [dynamo.pid] : [],
      url: urls.dynamodb,
      log: p.logFile("dynalite"),
    },
    {
      name: "function",
      state: state(fn?.running ?? false, fn?.healthy ?? false, "function"),
      pids: fn?.running && fn.pid ? [fn.pid] : [],
      url: `${urls.openfaas}${FUNCTION_PATH}`,
      log: p.logFile("function"),
    },
    {
      name: "trigger",
      state: state(trigger?.running ?? false, trigger?.healthy ?? false, "trigger"),
      pids: trigger?.running && trigger.pid ? [trigger.pid] : [],
      url: urls.trigger,
      log: p.logFile("trigger"),
    },
  ];
}

/** Starts dynalite and (re)loads the students; resolves true when dynalite was already up. */
async function startStudents(
  config: StackConfig,
  env: Record<string, string>,
  log: (line: string) => void,
): Promise<boolean> {
  const dynamo = await startDynalite({ ...dynaliteFiles(config), dataPath: stackPaths(config.dir).dynamodb });
  log(`dynamodb ${dynamo.reused ? "already up" : "started"}: ${dynamo.endpoint}`);
  // Loaded on demand: the SDK is slow to import and `down`/`status` do not need it.
  const [{ createDynamoClient }, { loadStudents }] = await Promise.all([
    import("../../lib/dynamo.js"),
    import("../../lib/students.js"),
  ]);
  const db = createDynamoClient({
    endpoint: env.DYNAMODB_ENDPOINT,
    region: REGION,
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  });
  try {
    const loaded = await loadStudents(db, config.studentsTable, config.studentsFile);
    for (const c of loaded.corrections) {
      log(`students: ${c.name}'s year "${c.from}" loaded as "${c.to}" (the grader's spelling)`);
    }
    log(`students: ${loaded.count} records in table ${config.studentsTable} from ${config.studentsFile}`);
  } finally {
    db.destroy();
  }
  return dynamo.reused;
}

/** encoding.pickle → <dir>/gallery.json through the project's own importer; true when already current. */
async function importGallery(config: StackConfig, log: (line: string) => void): Promise<boolean> {
  const p = stackPaths(config.dir);
  if (!existsSync(config.galleryPickle)) {
    throw new Error(
      `gallery: ${config.galleryPickle} not found (set FACEREC_DATA_DIR, STACK_GALLERY_PICKLE or STACK_GALLERY_FILE)`,
    );
  }
  if (existsSync(p.gallery) && statSync(p.gallery).mtimeMs >= statSync(config.galleryPickle).mtimeMs) return true;
  const partial = join(config.dir, "gallery.partial.json");
  const started = Date.now();
  try {
    await runScript("facerec", ["gallery", "import", config.galleryPickle, "--out", partial], {
      env: {},
      logFile: stackPaths(config.dir).logFile("gallery-import"),
      marker: config.dir,
      timeoutMs: 180_000,
    });
  } catch (error) {
    throw new Error(`gallery import failed: ${(error as Error).message}`, { cause: error });
  }
  if (!existsSync(partial)) throw new Error(`gallery import wrote no ${partial}`);
  renameSync(partial, p.gallery);
  log(`gallery: imported ${config.galleryPickle} in ${Date.now() - started} ms → ${p.gallery}`);
  return false;
}

/** The gallery also in S3, for GALLERY=s3://gallery/gallery.json (as a cloud deployment reads it). */
async function putGallery(env: Record<string, string>, file: string): Promise<void> {
  const { createS3Client, putText } = await import("../../lib/s3.js");
  const s3 = createS3Client({
    endpoint: env.S3_ENDPOINT,
    region: REGION,
    accessKeyId: env.S3_AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.S3_AWS_SECRET_ACCESS_KEY ?? "",
  });
  try {
    await putText(s3, GALLERY_BUCKET, "gallery.json", readFileSync(file, "utf8"), "application/json");
  } finally {
    s3.destroy();
  }
}

function functionSpec(config: StackConfig, env: Record<string, string>): ServiceSpec {
  return {
    name: "function",
    script: "function",
    args: [],
    env: { ...env, HOST: "127.0.0.1", PORT: String(config.ports.function) },
    port: config.ports.function,
    healthPath: "/_/health",
    // Loading the face models takes a while on a busy machine.
    readyTimeoutMs: 180_000,
    stopGraceMs: 15_000,
  };
}

function triggerSpec(config: StackConfig, env: Record<string, string>): ServiceSpec {
  return {
    name: "trigger",
    script: "trigger",
    args: ["run"],
    env: { ...env, TRIGGER_HOST: "127.0.0.1", TRIGGER_PORT: String(config.ports.trigger) },
    port: config.ports.trigger,
    healthPath: "/healthz",
    readyTimeoutMs: 60_000,
    // It drains running invocations on SIGTERM (SHUTDOWN_TIMEOUT_SECONDS, 25 s by default).
    stopGraceMs: 30_000,
  };
}

function serviceFiles(config: StackConfig, name: string) {
  const p = stackPaths(config.dir);
  return { marker: config.dir, pidFile: p.pidFile(name), logFile: p.logFile(name) };
}

function dynaliteFiles(config: StackConfig) {
  return { ...serviceFiles(config, "dynalite"), port: config.ports.dynamodb };
}

function readSavedConfig(dir: string): StackConfig | undefined {
  try {
    return JSON.parse(readFileSync(stackPaths(dir).state, "utf8")) as StackConfig;
  } catch {
    return undefined;
  }
}

/** `down` deletes the dir: refuse one that holds anything but a stack (a mistyped STACK_DIR). */
function assertStackDir(dir: string): void {
  if (!existsSync(dir) || existsSync(stackPaths(dir).state) || readdirSync(dir).length === 0) return;
  throw new Error(`${dir} exists and is not a stack dir (no stack.json): choose another STACK_DIR`);
}

/** One `up` or `down` at a time per dir; a lock left by a dead process is taken over. */
async function withLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const lock = stackPaths(dir).lock;
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
  } catch {
    const holder = Number(readFileSync(lock, "utf8"));
    if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
      throw new Error(`another stack up/down (pid ${holder}) works on ${dir}`);
    }
    writeFileSync(lock, String(process.pid));
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Runs every step to the end (none is left running in the background) and throws the failures. */
async function settleAll(steps: (Promise<unknown> | false)[]): Promise<void> {
  const results = await Promise.allSettled(steps.filter((s): s is Promise<unknown> => s !== false));
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new Error(failures.map((f) => f.message).join("\n"));
}
