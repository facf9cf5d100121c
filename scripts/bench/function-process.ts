// Function processes of their own, started from the bundle as the stack and the image start them:
// the cold start, the engine's speedups against stock face-api, and peak memory.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { freePort, httpStatus } from "../../lib/net.js";
import { peakResidentKb } from "../../lib/process.js";
import { poll } from "../../lib/wait.js";
import type { SpeedupSetting } from "../../functions/face-recognition/pipeline/engine/speedups.js";
import { median, REPEATS, round } from "./stats.js";

export interface ColdStart {
  /** Process start → ready to serve. */
  readyMs: number;
  /** Then one video, sent at once: start → its CSV written. */
  firstVideoMs: number;
}

/** A function process started as the stack and the image start it, then sent one video at once. */
export interface FunctionProcess {
  pid: number;
  /** Process start → ready to serve (warm-up included). */
  readyMs: number;
  /** One video through the process's server: resolves with start → its CSV written. */
  send(video: { bucket: string; key: string }): Promise<number>;
  /** Gone, with its ffmpeg host, before anything else is timed. */
  stop(): Promise<void>;
}

/** A function process started from the bundle (npm run build, which setup runs), timed to ready. */
export async function startFunctionProcess(env: NodeJS.ProcessEnv, token?: string): Promise<FunctionProcess> {
  const port = await freePort();
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

export async function coldStart(
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

export interface EngineRun {
  speedups: SpeedupSetting;
  readyMs: number[];
  allClipsMs: number;
  peakRssMb: number;
}

/**
 * The engine with its speedups against stock face-api (FACE_SPEEDUPS=off): function processes of
 * their own, started alternately; then the 8 clips in `all` mode through one process of each.
 */
export async function speedupsAgainstStock(
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
        peakRssMb: round(peakRss(fn.pid)),
      });
    } finally {
      await fn.stop();
    }
  }
  return runs;
}

export function peakRss(pid: number): number {
  const kb = peakResidentKb(pid);
  if (kb === undefined) throw new Error(`process ${pid} is gone: no peak memory to read`);
  return kb / 1024;
}
