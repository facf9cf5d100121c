// Stages 2–5 for one downloaded video: check the container, recognise, look the people up.
// Shared by the OpenFaaS handler and the command-line tool.
import type { FaceEngine } from "./faces.js";
import { checkContainer } from "./fetch-video.js";
import type { MatchIndex, MatchRules } from "./match.js";
import { type Mode, recognizeVideo } from "./recognize.js";
import type { PersonReport, VideoResult } from "./report.js";
import type { StudentDirectory } from "./students.js";
import type { FrameOptions } from "./decode/decoder.js";

export interface Analyzer {
  engine: FaceEngine;
  index: MatchIndex;
  rules: MatchRules;
  students: StudentDirectory;
  mode: Mode;
  frames: FrameOptions;
}

/** `signal`: the caller gave up or its deadline passed; a video still queued for the worker never starts. */
export async function analyzeVideo(
  file: string,
  video: string,
  analyzer: Analyzer,
  signal?: AbortSignal,
): Promise<VideoResult> {
  signal?.throwIfAborted();
  await checkContainer(file);
  const recognition = await recognizeVideo(file, analyzer.engine, analyzer.index, {
    mode: analyzer.mode,
    frames: analyzer.frames,
    rules: analyzer.rules,
    signal,
  });
  const started = performance.now();
  const warnings: string[] = [];
  const people: PersonReport[] = [];
  // One GetItem per identified name, in parallel: a video rarely holds more than a handful.
  const records = await Promise.all(recognition.people.map((p) => analyzer.students.find(p.name)));
  recognition.people.forEach((p, i) => {
    const student = records[i];
    if (!student && analyzer.students.kind !== "none") warnings.push(`no student record for "${p.name}"`);
    people.push({
      name: p.name,
      major: student?.major ?? "",
      year: student?.year ?? "",
      distance: Number(p.bestDistance.toFixed(4)),
      firstSeen: p.firstSeenMs / 1000,
      lastSeen: p.lastSeenMs / 1000,
      seen: p.ranges.map((r) => ({ from: r.fromMs / 1000, to: r.toMs / 1000 })),
      frames: p.frames,
    });
  });
  return {
    video,
    people,
    unknownFaces: recognition.unknownFaces,
    framesExamined: recognition.framesExamined,
    backend: recognition.backend,
    mode: analyzer.mode,
    timingsMs: { ...recognition.timingsMs, students: Math.round(performance.now() - started) },
    warnings,
  };
}
