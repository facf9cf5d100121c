// npm run demo: the whole system on the local stack. Brings the stack up, uploads the 8 CSE546
// clips through the S3 API, waits for their CSVs and prints what came back against the grader's
// answers. Exit status 0 only when every video is right.
import { rm } from "node:fs/promises";
import { readSettings } from "../lib/config.js";
import { readS3Settings } from "../lib/cloud.js";
import { createS3Client } from "../lib/s3.js";
import { dataDir } from "../lib/shared-data.js";
import { buildSampleData } from "./demo/sample-data.js";
import { stackUp } from "./stack/stack.js";
import { cse546Uploads, runWorkload, type Upload } from "./workload.js";

async function main(): Promise<number> {
  const data = dataDir();
  let uploads: Upload[];
  let sampleDir: string | undefined;
  const stackEnv: Record<string, string | undefined> = { ...process.env };
  if (data) {
    uploads = await cse546Uploads(data, { only8: true });
  } else {
    // A fresh clone has no shared data: make a small labeled set from images inside node_modules.
    console.log("no shared data folder (FACEREC_DATA_DIR): building a sample set from face-api's demo images");
    const sample = await buildSampleData();
    sampleDir = sample.dir;
    uploads = sample.uploads;
    Object.assign(stackEnv, { STACK_GALLERY_FILE: sample.galleryFile, STACK_STUDENTS_FILE: sample.studentsFile });
  }
  const stack = await stackUp({ env: stackEnv, log: (line) => console.log(line) });
  const s3Settings = readSettings({ ...process.env, ...stack.env }, readS3Settings);
  const s3 = createS3Client(s3Settings);

  console.log(`uploading ${uploads.length} videos to s3://${s3Settings.inputBucket} at ${s3Settings.endpoint}`);
  const { outcomes, totalMs } = await runWorkload(uploads, {
    s3,
    inputBucket: s3Settings.inputBucket,
    outputBucket: s3Settings.outputBucket,
    timeoutMs: 300_000,
  });

  // The stack keeps its own copies of the gallery and the students: the sample set can go.
  if (sampleDir) await rm(sampleDir, { recursive: true, force: true });

  const rows = outcomes.map((o) => [
    o.key,
    o.csv ? (o.csv.split(/\r?\n/)[1]?.split(",")[0] ?? "") || "(nobody)" : o.error ? `error: ${o.error}` : "(no CSV)",
    ...(o.found ?? ",").split(","),
    o.expected,
    o.correct ? "yes" : "NO",
    o.csvMs === undefined ? "-" : ((o.csvMs - o.uploadedMs) / 1000).toFixed(2),
  ]);
  printTable(["video", "person", "major", "year", "expected", "correct?", "s upload→CSV"], rows);
  const right = outcomes.filter((o) => o.correct).length;
  console.log(
    `\n${right}/${outcomes.length} correct, ${(totalMs / 1000).toFixed(1)} s from the first upload to the last CSV`,
  );
  console.log("the stack keeps running: `npm run stack:status`, `npm run stack:down`");
  return right === outcomes.length ? 0 : 1;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows) console.log(line(row));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo: ${(err as Error).message}`);
    process.exit(1);
  },
);
