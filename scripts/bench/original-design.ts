// The original system's design, measured through the same services and models as ours.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { run } from "../../lib/process.js";
import { downloadObject, putText } from "../../lib/s3.js";
import type { FaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import { readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { judgeFace, type MatchIndex, type MatchRules } from "../../functions/face-recognition/pipeline/match.js";
import { toCsv } from "../../functions/face-recognition/pipeline/report.js";
import type { StudentDirectory } from "../../functions/face-recognition/pipeline/students.js";
import type { LabeledVideo } from "../eval/dataset.js";
import { median, REPEATS, timed } from "./stats.js";

/** Where the original design reads its video and writes its CSV: the same services and clients as ours. */
export interface OriginalIo {
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
export async function originalDesign(
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
      await run("ffmpeg", ["-v", "error", "-i", video, "-vf", "fps=1", join(dir, "%03d.jpg")], {
        timeoutMs: 120_000,
      });
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
