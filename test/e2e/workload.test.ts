// The whole system as a user runs it: the stack up, the CSE546 grader's 108 uploads through the
// S3 API, every CSV in the output bucket with the grader's major and year, then the stack down
// leaving no process and no data behind.
import { existsSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSettings } from "../../lib/config.js";
import { readS3Settings } from "../../lib/cloud.js";
import { createS3Client } from "../../lib/s3.js";
import { type StackInfo, stackDown, stackStatus, stackUp } from "../../scripts/stack/stack.js";
import { cse546Uploads, runWorkload } from "../../scripts/workload.js";
import { requireData } from "../support/data.js";
import { isAlive } from "../../lib/process.js";
import { privateStackEnv } from "../support/services.js";
import { eventually } from "../support/wait.js";

const data = requireData();

describe.skipIf(!data)("the CSE546 workload through the local stack", () => {
  let env: Record<string, string | undefined>;
  let stack: StackInfo | undefined;
  const dir = join(mkdtempSync(join(tmpdir(), "e2e-")), "stack");

  afterAll(async () => {
    if (stack) await stackDown({ env }).catch(() => undefined);
  });

  it("brings the stack up, processes all 108 uploads correctly, and leaves nothing behind", async () => {
    env = await privateStackEnv(dir);
    stack = await stackUp({ env });
    const s3Settings = readSettings(stack.env, readS3Settings);
    const uploads = await cse546Uploads(data as string);
    expect(uploads).toHaveLength(108);

    const { outcomes, totalMs } = await runWorkload(uploads, {
      s3: createS3Client(s3Settings),
      inputBucket: s3Settings.inputBucket,
      outputBucket: s3Settings.outputBucket,
      timeoutMs: 480_000,
      concurrency: 8,
    });
    console.log(`108 uploads: ${(totalMs / 1000).toFixed(1)} s from the first upload to the last CSV`);
    const wrong = outcomes
      .filter((o) => !o.correct)
      .map((o) => `${o.key}: expected ${o.expected}, got ${o.found ?? o.error ?? "no CSV"}`);
    expect(wrong).toEqual([]);

    const pids = (await stackStatus({ env })).components.flatMap((c) => c.pids);
    expect(pids.length).toBeGreaterThan(0);
    await stackDown({ env });
    stack = undefined;
    await eventually(() => !pids.some(isAlive), 10_000);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 900_000);
});
