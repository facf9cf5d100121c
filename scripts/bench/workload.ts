// The CSE546 workload (8 + 100 uploads) through the bench's stack: first upload → last CSV, and the
// peak memory of the function's processes and their ffmpeg hosts.
import type { S3Client } from "@aws-sdk/client-s3";
import { childrenOf, commandLine } from "../../lib/process.js";
import type { Mode } from "../../functions/face-recognition/pipeline/recognize.js";
import type { Env } from "../../lib/config.js";
import { stackStatus } from "../stack/stack.js";
import { cse546Uploads, runWorkload } from "../workload.js";
import { peakRss } from "./function-process.js";
import { round } from "./stats.js";

export async function measureWorkload(
  data: string,
  s3: S3Client,
  options: { mode: Mode; stackEnv: Env; say: (line: string) => void },
): Promise<Record<string, unknown>> {
  const { mode, stackEnv, say } = options;
  const uploads = await cse546Uploads(data);
  say(
    `\nworkload: ${uploads.length} uploads through the stack (trigger → function in ${mode} mode → output bucket) ...`,
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
  const status = await stackStatus({ env: stackEnv });
  const functionPids = status.components.find((c) => c.name === "function")?.pids ?? [];
  const pids = [...functionPids, ...functionPids.flatMap(childrenOf)];
  const rss = pids.map(peakRss);
  // Each process that decodes has its ffmpeg host (pipeline/ffmpeg-host.ts) beside it.
  const hostPids = pids.flatMap(childrenOf).filter((pid) => commandLine(pid).includes("ffmpeg-host"));
  const hostRss = hostPids.map(peakRss);
  const workload = {
    mode,
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
  return workload;
}
