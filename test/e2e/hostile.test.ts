// Hostile uploads through the whole stack (Ceph RGW → trigger → function → output bucket), then a
// load of 100 good uploads mixed with 20 bad ones at once: every good one correct, every bad one
// failed with its reason, nothing processed twice, the function's memory flat, no credential in
// any log.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../lib/config.js";
import { readS3Settings } from "../../lib/cloud.js";
import { createS3Client, listAllObjects } from "../../lib/s3.js";
import { STACK_KEYS } from "../../scripts/stack/config.js";
import { reportStem } from "../../functions/face-recognition/pipeline/report.js";
import { type StackInfo, stackDown, stackStatus, stackUp } from "../../scripts/stack/stack.js";
import { cse546Uploads, runWorkload, type Upload } from "../../scripts/workload.js";
import { requireData } from "../support/data.js";
import { buildHostileCorpus, CORPUS_LIMITS, type HostileCase } from "../support/hostile-corpus.js";
import { peakKb } from "../security/memory.js";
import { descendantsOf } from "../../lib/process.js";
import { privateStackEnv } from "../support/services.js";
import { waitFor } from "../support/wait.js";

const data = requireData();
/** A job in one of these states has had its last run. */
const ENDED = new Set(["succeeded", "failed", "superseded"]);

describe.skipIf(!data)("hostile input and load through the local stack", () => {
  let env: Record<string, string | undefined>;
  let stack: StackInfo | undefined;
  const work = mkdtempSync(join(tmpdir(), "e2e-hostile-"));
  const dir = join(work, "stack");
  let cases: HostileCase[];
  let s3Settings: ReturnType<typeof readS3Settings>;

  /** Every process of the function (its primary, its workers, their ffmpeg hosts and ffmpegs) with its peak memory, in MB. */
  const functionPeaks = async () => {
    const fn = (await stackStatus({ env })).components.find((c) => c.name === "function");
    const all = new Set((fn?.pids ?? []).flatMap((pid) => [pid, ...descendantsOf(pid)]));
    return [...all].map((pid) => ({ pid, mb: Math.round(peakKb(pid) / 1024) })).filter((p) => p.mb > 0);
  };
  /** How many times the function finished each key (done or refused), from its log. */
  const finishedPerKey = () => {
    const counts = new Map<string, number>();
    for (const line of readFileSync(join(dir, "logs", "function.log"), "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const entry = JSON.parse(line) as { msg?: string; videoKey?: string };
      if (entry.videoKey && (entry.msg === "video done" || entry.msg === "video refused")) {
        counts.set(entry.videoKey, (counts.get(entry.videoKey) ?? 0) + 1);
      }
    }
    return counts;
  };
  /** The trigger's jobs, as `trigger status --json` reports them. */
  const triggerJobs = () => {
    const out = execFileSync(process.execPath, ["--import", "tsx", "trigger/cli.ts", "status", "--json"], {
      env: { ...process.env, ...stack?.env },
    }).toString();
    const { jobs } = JSON.parse(out) as { jobs: Record<string, { key: string; status: string; lastError?: string }[]> };
    return Object.values(jobs).flat();
  };
  const workload = (uploads: Upload[], timeoutMs: number) =>
    runWorkload(uploads, {
      s3: createS3Client(s3Settings),
      inputBucket: s3Settings.inputBucket,
      outputBucket: s3Settings.outputBucket,
      timeoutMs,
      concurrency: 16,
    });

  beforeAll(async () => {
    cases = buildHostileCorpus(work, join(data as string, "cse546", "videos", "test_0.mp4"));
    // The stack's services inherit this process's environment: the corpus's limits.
    for (const [k, v] of Object.entries(CORPUS_LIMITS)) process.env[k] = String(v);
    env = await privateStackEnv(dir);
    stack = await stackUp({ env, log: () => undefined });
    s3Settings = readSettings(stack.env, readS3Settings);
  }, 300_000);

  afterAll(async () => {
    if (stack) await stackDown({ env }).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  it("gives every hostile upload its reason in <stem>.error.json, and nobody-known videos a header-only CSV", async () => {
    const uploads = cases.map((c) => ({ key: `hostile/${c.name}.mp4`, file: c.file, expected: "" }));
    const { outcomes, totalMs } = await workload(uploads, 120_000);
    const lines = outcomes.map((o, i) => {
      const c = cases[i] as HostileCase;
      return `${c.name}: ${o.error ?? (o.csv === undefined ? "nothing" : `CSV ${JSON.stringify(o.csv)}`)}`;
    });
    console.log(`hostile corpus through the stack, ${(totalMs / 1000).toFixed(1)} s:\n  ${lines.join("\n  ")}`);
    outcomes.forEach((o, i) => {
      const c = cases[i] as HostileCase;
      if (c.reason) expect(o.error, c.name).toMatch(c.reason);
      else expect(o.csv, c.name).toBe("name,major,year\r\n");
    });
    // Within seconds each: the whole corpus, through polling and notifications, well under a minute.
    expect(totalMs).toBeLessThan(60_000);
    // The trigger marked each refused upload's job failed with the same reason.
    const jobs = triggerJobs();
    for (const c of cases.filter((x) => x.reason)) {
      const job = jobs.find((j) => j.key === `hostile/${c.name}.mp4`);
      expect(job?.status, c.name).toBe("failed");
      expect(job?.lastError, c.name).toContain(outcomes.find((o) => o.key === job?.key)?.error ?? "?");
    }
  }, 180_000);

  it("100 good uploads and 20 bad ones at once: every good one right, every bad one failed with its reason, none twice, memory flat", async () => {
    const before = await functionPeaks();
    const good = (await cse546Uploads(data as string)).slice(0, 100).map((u) => ({ ...u, key: `load/${u.key}` }));
    const refused = cases.filter((c) => c.reason);
    const bad = Array.from({ length: 20 }, (_, i) => {
      const c = refused[i % refused.length] as HostileCase;
      return { key: `load-bad/${i}-${c.name}.mp4`, file: c.file, expected: "", reason: c.reason as RegExp };
    });
    // Interleaved: one bad upload after every five good ones.
    const uploads: (Upload & { reason?: RegExp })[] = [];
    good.forEach((u, i) => {
      uploads.push(u);
      if (i % 5 === 4) uploads.push(bad[(i - 4) / 5] as Upload);
    });
    expect(uploads).toHaveLength(120);
    const { outcomes, totalMs } = await workload(uploads, 300_000);
    const after = await functionPeaks();
    console.log(
      `load: 120 uploads in ${(totalMs / 1000).toFixed(1)} s; function peak memory (MB) before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
    );
    const wrong = outcomes
      .filter((o) => o.key.startsWith("load/") && !o.correct)
      .map((o) => `${o.key}: expected ${o.expected}, got ${o.found ?? o.error ?? "no CSV"}`);
    expect(wrong).toEqual([]);
    for (const o of outcomes.filter((x) => x.key.startsWith("load-bad/"))) {
      const b = bad.find((x) => x.key === o.key) as { reason: RegExp };
      expect(o.error, o.key).toMatch(b.reason);
      expect(o.csv, o.key).toBeUndefined();
    }
    // Nothing processed twice: each upload is one job, so a key finished at most once per upload of
    // it (the grader uploads some keys again, with the same bytes; two uploads of one key in the
    // same second are one upload to the trigger) and at least once.
    const counts = finishedPerKey();
    const uploadsOf = new Map<string, number>();
    for (const u of uploads) uploadsOf.set(u.key, (uploadsOf.get(u.key) ?? 0) + 1);
    expect(
      [...uploadsOf]
        .filter(([key, n]) => !((counts.get(key) ?? 0) >= 1 && (counts.get(key) ?? 0) <= n))
        .map(([key, n]) => `${key}: ${counts.get(key) ?? 0} runs for ${n} uploads`),
    ).toEqual([]);
    // A key uploaded again has a second job, which may still be queued when the first one's CSV
    // has appeared: the statuses are read once every job of the load has ended.
    const loadJobs = () => triggerJobs().filter((j) => j.key.startsWith("load"));
    const jobs = await waitFor(loadJobs, (js) => js.every((j) => ENDED.has(j.status)), 120_000);
    const statusOf = (key: string) => jobs.filter((j) => j.key === key).map((j) => j.status);
    const good2 = [...new Set(good.map((u) => u.key))];
    expect(good2.filter((k) => !statusOf(k).every((st) => st === "succeeded") || statusOf(k).length === 0)).toEqual([]);
    expect(bad.filter((b) => statusOf(b.key).join() !== "failed").map((b) => b.key)).toEqual([]);
    const keys: string[] = [];
    for await (const o of listAllObjects(createS3Client(s3Settings), s3Settings.outputBucket, "load")) keys.push(o.key);
    // The grader's uploads repeat some keys (the same bytes again): one CSV and JSON per distinct key.
    const distinct = new Set(uploads.map((u) => u.key));
    expect(keys.sort()).toEqual(
      [...distinct]
        .flatMap((k) => {
          const stem = reportStem(k);
          return k.startsWith("load/") ? [`${stem}.csv`, `${stem}.json`] : [`${stem}.error.json`];
        })
        .sort(),
    );
    // Memory flat: no worker's peak grew by more than 150 MB over 120 videos.
    for (const p of after) {
      const was = before.find((b) => b.pid === p.pid);
      if (was) expect(p.mb - was.mb, `pid ${p.pid}`).toBeLessThan(150);
    }
  }, 420_000);

  it("no credential of the stack appears in any of its logs", () => {
    const logs = join(dir, "logs");
    expect(existsSync(logs)).toBe(true);
    const text = readdirSync(logs)
      .map((f) => readFileSync(join(logs, f), "utf8"))
      .join("\n");
    expect(text).toMatch(/video refused/);
    for (const secret of [STACK_KEYS.s3SecretKey, STACK_KEYS.dynamoSecretKey]) {
      expect(text.includes(secret), `${secret.slice(0, 12)}… leaked`).toBe(false);
    }
  });
});
