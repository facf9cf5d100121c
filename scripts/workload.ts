// The CSE546 workload as the original grader ran it: upload videos to the input bucket through the
// S3 API, wait for each `<stem>.csv` in the output bucket, and check major and year against the
// grader's mapping. Used by the demo, the end-to-end test and the benchmark.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getText, listAllObjects } from "../lib/s3.js";
import { reportStem } from "../functions/face-recognition/pipeline/report.js";

export interface Upload {
  key: string;
  /** Local file with the video's bytes. */
  file: string;
  /** "major,year" the CSV must hold. */
  expected: string;
  /** The person, for display. */
  person?: string;
}

export interface UploadOutcome extends Upload {
  uploadedMs: number;
  /** When the CSV was first seen, ms after the workload started; undefined if it never came. */
  csvMs?: number;
  csv?: string;
  /** "major,year" of the CSV's first row ("" when the CSV has no row). */
  found?: string;
  error?: string;
  correct: boolean;
}

/** The grader's answers: `test_N.mp4:<major>,<year>`. */
export async function readMapping(dataDir: string): Promise<Map<string, string>> {
  const text = await readFile(join(dataDir, "cse546", "mapping"), "utf8");
  return new Map(
    text
      .trim()
      .split("\n")
      .map((line) => line.trim().split(":") as [string, string]),
  );
}

/** video name → the clip with the same bytes, and the person in it. */
async function readExpectedPeople(dataDir: string): Promise<Map<string, { file: string; person: string }>> {
  const rows = (await readFile(join(dataDir, "cse546", "expected_person.csv"), "utf8")).trim().split("\n").slice(1);
  return new Map(
    rows.map((row) => {
      const [video, person, , , sameAs] = row.split(",").map((c) => c.trim()) as [
        string,
        string,
        string,
        string,
        string,
      ];
      return [video, { file: join(dataDir, "cse546", sameAs), person }];
    }),
  );
}

/** The 8 distinct clips (as first uploaded), then the 100 named as in `mapping`: 108 uploads. */
export async function cse546Uploads(dataDir: string, options: { only8?: boolean } = {}): Promise<Upload[]> {
  const mapping = await readMapping(dataDir);
  const people = await readExpectedPeople(dataDir);
  const upload = (key: string): Upload => {
    const clip = people.get(key);
    const expected = mapping.get(key);
    if (!clip || !expected) throw new Error(`no expected answer for ${key}`);
    return { key, file: clip.file, expected, person: clip.person };
  };
  const eight = ["test_0", "test_1", "test_2", "test_4", "test_5", "test_6", "test_7", "test_8"].map((n) =>
    upload(`${n}.mp4`),
  );
  return options.only8 ? eight : [...eight, ...[...mapping.keys()].map(upload)];
}

export interface WorkloadOptions {
  s3: S3Client;
  inputBucket: string;
  outputBucket: string;
  timeoutMs: number;
  /** Uploads in flight at once. */
  concurrency?: number;
  pollMs?: number;
}

/**
 * Uploads everything (a key uploaded twice keeps its first time: the CSV answers both), then
 * watches the output bucket until every CSV is there or the time is up.
 */
export async function runWorkload(
  uploads: Upload[],
  options: WorkloadOptions,
): Promise<{ outcomes: UploadOutcome[]; totalMs: number }> {
  const started = performance.now();
  const byKey = new Map<string, UploadOutcome>();
  const bytes = new Map<string, Buffer>();
  const queue = [...uploads];
  const uploader = async () => {
    for (let u = queue.shift(); u; u = queue.shift()) {
      const body = bytes.get(u.file) ?? (await readFile(u.file));
      bytes.set(u.file, body);
      await options.s3.send(
        new PutObjectCommand({ Bucket: options.inputBucket, Key: u.key, Body: body, ContentType: "video/mp4" }),
      );
      if (!byKey.has(u.key)) byKey.set(u.key, { ...u, uploadedMs: performance.now() - started, correct: false });
    }
  };
  const uploading = Promise.all(Array.from({ length: options.concurrency ?? 4 }, uploader));

  const waitFor = new Set(uploads.map((u) => u.key));
  const deadline = started + options.timeoutMs;
  let uploadsDone = false;
  uploading.then(() => {
    uploadsDone = true;
  });
  while (waitFor.size > 0 && performance.now() < deadline) {
    const present = new Set<string>();
    for await (const o of listAllObjects(options.s3, options.outputBucket)) present.add(o.key);
    for (const key of [...waitFor]) {
      const outcome = byKey.get(key);
      if (!outcome) continue;
      const stem = reportStem(key);
      if (present.has(`${stem}.csv`)) {
        outcome.csvMs = performance.now() - started;
        outcome.csv = await getText(options.s3, options.outputBucket, `${stem}.csv`);
        outcome.found = firstRow(outcome.csv);
        outcome.correct = outcome.found === outcome.expected;
        waitFor.delete(key);
      } else if (present.has(`${stem}.error.json`)) {
        outcome.error = (
          JSON.parse(await getText(options.s3, options.outputBucket, `${stem}.error.json`)) as { error: string }
        ).error;
        waitFor.delete(key);
      }
    }
    if (waitFor.size > 0) await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
  }
  await uploading;
  if (!uploadsDone) throw new Error("uploads did not finish");
  const outcomes = uploads.map((u) => byKey.get(u.key) ?? { ...u, uploadedMs: Number.NaN, correct: false });
  return { outcomes, totalMs: performance.now() - started };
}

/** "major,year" from the CSV's first data row, "" when it has none. */
export function firstRow(csv: string): string {
  const row = csv.split(/\r?\n/)[1] ?? "";
  return row.split(",").slice(1, 3).join(",");
}
