// Each CSE546 clip through the real handler path, warm, in `first` and `all` modes, beside the
// floor (decode and inference alone) and, in `first` mode, the original design.
import { createFunctionApp } from "../../functions/face-recognition/app.js";
import type { FunctionConfig } from "../../functions/face-recognition/config.js";
import type { FunctionContext, FunctionEvent } from "../../functions/face-recognition/handler.js";
import type { FaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import type { MatchIndex } from "../../functions/face-recognition/pipeline/match.js";
import { createLogger } from "../../lib/log.js";
import type { LabeledVideo } from "../eval/dataset.js";
import { floor } from "./floor.js";
import { type OriginalIo, originalDesign } from "./original-design.js";
import { median, REPEATS, round, sum, timed } from "./stats.js";

/** The handler's context, as the OpenFaaS template gives it; the bench reads only the result. */
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

export interface ModeRuns {
  /** Per mode, a row per clip: stage medians, the floor, ours over the floor (and the original design in `first`). */
  perMode: Record<string, unknown[]>;
  /** ours/floor per clip and mode, and the original design over ours per clip. */
  ratios: Record<string, number[]>;
}

export interface ModeRunsSetup {
  config: FunctionConfig;
  clips: LabeledVideo[];
  /** The bucket the clips were uploaded to. */
  bucket: string;
  engine: FaceEngine;
  /** The original design's engine (SSD). */
  ssd: FaceEngine;
  index: MatchIndex;
  app: Awaited<ReturnType<typeof createFunctionApp>>;
  originalIo: OriginalIo;
  say: (line: string) => void;
}

export async function runModes(setup: ModeRunsSetup): Promise<ModeRuns> {
  const { config, clips, bucket: benchIn, engine, ssd, index, app, originalIo, say } = setup;
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
  return { perMode, ratios };
}
