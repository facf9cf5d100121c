// npx tsx scripts/bench/decoders.ts [--rounds N] [--json]: the decode stage's two paths, measured
// in one process that holds the real face engine (as the function does: a fork of a big process
// costs it page faults on its next writes, which land in the inference time). Per mode, the
// frames that mode needs (the first one for `first`, every sampled one for `all`) of the 8 CSE546
// clips, decoded and run through the engine, the paths alternated round by round:
//  - simple: ffmpeg started by fluent-ffmpeg in this process for each video (decode/decoder.ts);
//  - host: ffmpeg started by a forked host process, one kept started ahead for the next video, and
//    stopped (SIGSTOP) while a frame is analysed in `first` mode (decode/host/).
// Prints per path and mode the medians over rounds of the 8 clips' total, decode and inference
// times, and ffmpeg's CPU time (read from /proc, summed over the ffmpegs' parents).
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { readSettings } from "../../lib/config.js";
import { childrenOf, commandLine, procText } from "../../lib/process.js";
import { dataDir } from "../../lib/shared-data.js";
import { readRecognitionSettings } from "../../functions/face-recognition/config.js";
import {
  DECODERS,
  type DecoderKind,
  type FrameOptions,
  readFrames,
  startDecoderAhead,
  useDecoder,
} from "../../functions/face-recognition/pipeline/decode/decoder.js";
import type { FaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import type { Mode } from "../../functions/face-recognition/pipeline/recognize.js";
import { frameOptions, startEngine } from "../../functions/face-recognition/runtime.js";
import { cse546Clips } from "../eval/dataset.js";
import { median } from "./stats.js";

const MODES: Mode[] = ["first", "all"];

interface PathFigures {
  path: DecoderKind;
  mode: Mode;
  /** Medians over the rounds of the 8 clips' sums, in ms. */
  totalMs: number;
  decodeMs: number;
  inferenceMs: number;
  /** ffmpeg's CPU time per pass of the 8 clips (the mean: /proc counts it in 10 ms ticks, once ffmpeg is reaped). */
  ffmpegCpuMs: number;
  /** Median over the rounds of this path's total / the simple path's in the same round (drift between rounds cancels). */
  totalVsSimple: number;
  decodeVsSimple: number;
  rounds: number;
}

/** CPU time of the reaped children of `pid` (cutime + cstime in /proc/<pid>/stat), in ms. */
function childrenCpuMs(pid: number): number {
  const stat = procText(pid, "stat") ?? "";
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 16 and 17 of stat; 14 and 15 after the pid and comm. Ticks of 10 ms (USER_HZ 100).
  return (Number(fields[13] ?? 0) + Number(fields[14] ?? 0)) * 10;
}

/** This process's ffmpeg CPU so far: its own reaped ffmpegs, and those of its ffmpeg host(s). */
function ffmpegCpuMs(): number {
  const hosts = childrenOf(process.pid).filter((pid) => commandLine(pid).includes("ffmpeg-host"));
  return [process.pid, ...hosts].reduce((sum, pid) => sum + childrenCpuMs(pid), 0);
}

/** One pass over the clips: per clip, the frames the mode needs, decoded and analysed as recognizeVideo does. */
async function pass(engine: FaceEngine, files: string[], options: FrameOptions, mode: Mode, path: DecoderKind) {
  let decodeMs = 0;
  let inferenceMs = 0;
  useDecoder(path);
  for (const file of files) {
    // As the function reads them (recognize.ts).
    const frames = readFrames(file, options, { onDemand: mode === "first" });
    let mark = performance.now();
    for await (const frame of frames) {
      const decoded = performance.now();
      decodeMs += decoded - mark;
      await engine.detect(frame);
      mark = performance.now();
      inferenceMs += mark - decoded;
      if (mode === "first") break;
    }
  }
  return { decodeMs, inferenceMs, totalMs: decodeMs + inferenceMs };
}

async function benchDecoders({ rounds = 5, log = console.log } = {}): Promise<PathFigures[]> {
  const data = dataDir();
  if (!data) throw new Error("no shared data (FACEREC_DATA_DIR): the bench decodes the CSE546 clips");
  const dir = await mkdtemp(join(tmpdir(), "bench-decoders-"));
  try {
    const files: string[] = [];
    for (const clip of await cse546Clips(data)) {
      const copy = join(dir, basename(clip.file));
      await copyFile(clip.file, copy);
      files.push(copy);
    }
    const settings = readSettings(process.env, readRecognitionSettings);
    const engine = await startEngine(settings);
    const optionsOf = (mode: Mode) => frameOptions({ ...settings, mode });
    // As the function does once its engine is loaded, for each path.
    for (const path of DECODERS) {
      useDecoder(path);
      for (const mode of MODES) startDecoderAhead(optionsOf(mode));
    }
    // One untimed pass per path and mode: the first video runs code paths later ones do not.
    for (const path of DECODERS) for (const mode of MODES) await pass(engine, files, optionsOf(mode), mode, path);

    const samples = new Map<string, { totalMs: number[]; decodeMs: number[]; inferenceMs: number[]; cpuMs: number }>();
    for (let round = 0; round < rounds; round++) {
      // Alternated: simple first in even rounds, host first in odd ones.
      const order = round % 2 === 0 ? DECODERS : [...DECODERS].reverse();
      for (const mode of MODES) {
        for (const path of order) {
          const cpuBefore = ffmpegCpuMs();
          const timing = await pass(engine, files, optionsOf(mode), mode, path);
          const key = `${path} ${mode}`;
          const entry = samples.get(key) ?? { totalMs: [], decodeMs: [], inferenceMs: [], cpuMs: 0 };
          entry.totalMs.push(timing.totalMs);
          entry.decodeMs.push(timing.decodeMs);
          entry.inferenceMs.push(timing.inferenceMs);
          entry.cpuMs += ffmpegCpuMs() - cpuBefore;
          samples.set(key, entry);
          log(`round ${round + 1} ${key}: ${Math.round(timing.totalMs)} ms (decode ${Math.round(timing.decodeMs)})`);
        }
      }
    }
    return MODES.flatMap((mode) =>
      DECODERS.map((path) => {
        const s = samples.get(`${path} ${mode}`);
        const simple = samples.get(`simple ${mode}`);
        if (!s || !simple) throw new Error(`no samples for ${path} ${mode}`);
        const vsSimple = (of: "totalMs" | "decodeMs") =>
          Number(median(s[of].map((ms, round) => ms / (simple[of][round] as number))).toFixed(2));
        return {
          path,
          mode,
          totalMs: Math.round(median(s.totalMs)),
          decodeMs: Math.round(median(s.decodeMs)),
          inferenceMs: Math.round(median(s.inferenceMs)),
          ffmpegCpuMs: Math.round(s.cpuMs / rounds),
          totalVsSimple: vsSimple("totalMs"),
          decodeVsSimple: vsSimple("decodeMs"),
          rounds,
        };
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const json = process.argv.includes("--json");
  const roundsAt = process.argv.indexOf("--rounds");
  const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 5;
  const figures = await benchDecoders({ rounds, log: json ? () => {} : console.log });
  if (json) console.log(JSON.stringify(figures, null, 2));
  else {
    console.log("\nmode   path    8 clips (median)  decode  inference  ffmpeg CPU/pass  total, decode / simple's");
    for (const f of figures)
      console.log(
        `${f.mode.padEnd(6)} ${f.path.padEnd(7)} ${`${f.totalMs} ms`.padStart(16)}  ${`${f.decodeMs}`.padStart(6)}  ${`${f.inferenceMs}`.padStart(9)}  ${`${f.ffmpegCpuMs} ms`.padStart(15)}  ${f.totalVsSimple}, ${f.decodeVsSimple}`,
      );
    console.log(`(${rounds} alternated rounds; this machine is shared and its speed drifts between runs)`);
  }
  process.exit(0);
}
