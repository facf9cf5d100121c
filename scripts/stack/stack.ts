// The local stack, as functions (the CLI, the demo and the e2e tests call them): Ceph RGW with
// the S3 user and buckets, dynalite with the students table, the function server and the trigger
// daemon, all on 127.0.0.1, state in one dir. Idempotent: what already runs (with the same
// settings) is kept, what is down is started. Settings: scripts/stack/config.ts.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cephStatus, startCeph, stopCeph } from "../../ceph/local/cluster.js";
import type { Env } from "../../lib/config.js";
import { stopPidFile } from "../../lib/daemon.js";
import {
  type ComponentStatus,
  componentStatus,
  dynaliteFiles,
  FUNCTION_PATH,
  functionSpec,
  serviceFiles,
  triggerSpec,
} from "./components.js";
import {
  connectionEnv,
  ENV_FILE_HEADER,
  endpoints,
  GALLERY_BUCKET,
  readStackConfig,
  renderEnvFile,
  STACK_KEYS,
  type StackConfig,
  type StackOptions,
  type StackService,
  stackPaths,
} from "./config.js";
import { dynaliteStatus, stopDynalite } from "./dynalite.js";
import { importGallery, putGallery, startStudents } from "./provision.js";
import { runScript, startService, stopService } from "./services.js";
import { assertStackDir, readSavedConfig, withLock } from "./state-dir.js";

export type { ComponentStatus } from "./components.js";
export { STACK_ENV_FILE, type StackConfig, type StackOptions } from "./config.js";

export type StackRunOptions = StackOptions & {
  /** Where STACK_* and the other settings are read from (default process.env). */
  env?: Env;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
};

export interface StackInfo {
  config: StackConfig;
  /** The connection settings, also written to config.envFile. */
  env: Record<string, string>;
  components: ComponentStatus[];
  /** What this call started or restarted; empty when everything was already up. */
  started: string[];
  tookMs: number;
}

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

/** Runs every step to the end (none is left running in the background) and throws the failures. */
async function settleAll(steps: (Promise<unknown> | false)[]): Promise<void> {
  const results = await Promise.allSettled(steps.filter((s): s is Promise<unknown> => s !== false));
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new Error(failures.map((f) => f.message).join("\n"));
}
