// Must show: the gateway down for 20 s during a batch — every video processed after it returns;
// and where the retry limit is lower than the outage, the videos are marked failed with the
// reason, listed by `trigger status`, and re-queued by `trigger retry`.
// The gateway is a stand-in (support/gateway.ts) in front of the real function server, so that
// it can be taken down while the function keeps running, as when the gateway pod is gone.
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { elapse, waitFor } from "../support/wait.js";
import { MiniGateway } from "./support/gateway.js";
import type { FunctionProcess, TriggerProcess } from "./support/processes.js";
import { startRealFunction, startTrigger, tinyVideo, triggerCommand } from "./support/processes.js";
import { createBuckets, dynamoStore, inParallel, put, s3Client, triggerEnv, uniqueName } from "./support/services.js";

const OUTAGE_MS = 20_000;

const input = uniqueName("in-outage");
const output = uniqueName("out-outage");
const patientTable = uniqueName("jobs-patient");
const hastyTable = uniqueName("jobs-hasty");
const patient = dynamoStore(patientTable);
const hasty = dynamoStore(hastyTable);
const batch = Array.from({ length: 14 }, (_, i) => `patient/video-${String(i).padStart(2, "0")}.mp4`);
const late = Array.from({ length: 3 }, (_, i) => `hasty/video-${i}.mp4`);
let s3: S3Client;
let video: Buffer;
let fn: FunctionProcess;
let gateway: MiniGateway;
const triggers: TriggerProcess[] = [];

beforeAll(async () => {
  s3 = s3Client();
  await createBuckets(s3, input, output);
  video = await tinyVideo();
  const [started] = await Promise.all([
    startRealFunction("function", { input, output }),
    inParallel(batch, 8, (key) => put(s3, input, key, video)),
  ]);
  fn = started;
  gateway = new MiniGateway(fn.url);
  await gateway.start();
});

afterAll(async () => {
  for (const trigger of triggers) await trigger.stop();
  await gateway?.close();
  await fn?.stop();
});

async function waitUntil(what: string, test: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  if (!(await waitFor(test, (done) => done, timeoutMs))) throw new Error(`timed out waiting for ${what}`);
}

const succeeded = async (store: typeof patient) => (await store.list()).filter((j) => j.status === "succeeded");

it("survives a 20 s gateway outage; past the retry limit, jobs fail with the reason and can be retried", async () => {
  // Enough attempts to outlast the outage: waits of 0.25–0.5, 0.5–1, 1–2, 2–4, then 3–6 s.
  const patientEnv = triggerEnv({
    bucket: input,
    table: patientTable,
    gatewayUrl: gateway.url,
    INPUT_PREFIX: "patient/",
    INVOKE_CONCURRENCY: "2",
    MAX_ATTEMPTS: "12",
    RETRY_BASE_SECONDS: "0.5",
    RETRY_MAX_SECONDS: "6",
  });
  const hastyEnv = triggerEnv({
    bucket: input,
    table: hastyTable,
    gatewayUrl: gateway.url,
    INPUT_PREFIX: "hasty/",
    MAX_ATTEMPTS: "2",
    RETRY_BASE_SECONDS: "0.2",
  });
  const first = await startTrigger("patient", patientEnv);
  triggers.push(first);
  await waitUntil("4 videos done", async () => (await succeeded(patient)).length >= 4, 60_000);

  await gateway.down();
  const downAt = Date.now();
  const doneBefore = (await succeeded(patient)).length;
  // Uploaded during the outage, to a daemon that allows only 2 attempts.
  await inParallel(late, 3, (key) => put(s3, input, key, video));
  const second = await startTrigger("hasty", hastyEnv);
  triggers.push(second);
  await waitUntil(
    "the hasty daemon to give up",
    async () => (await hasty.list()).filter((j) => j.status === "failed").length === late.length,
    15_000,
  );
  const failed = await hasty.list();
  for (const job of failed) {
    expect(job).toMatchObject({ status: "failed", attempts: 2 });
    expect(job.lastError).toMatch(/^gave up after 2 attempts; last error: .*ECONNREFUSED/);
  }
  const status = await triggerCommand(["status"], hastyEnv);
  console.log(`trigger status during the outage (MAX_ATTEMPTS=2):\n${status.stdout}`);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/failed\s+3/);
  expect(status.stdout).toContain("hasty/video-0.mp4");
  expect(status.stdout).toContain("ECONNREFUSED");

  // Meanwhile nothing was lost by the patient daemon: its jobs wait for their next attempt.
  await elapse(Math.max(0, downAt + OUTAGE_MS - Date.now())); // the outage is held for its full length
  const during = await patient.list();
  expect(during.filter((j) => j.status === "failed")).toEqual([]);
  expect(during.some((j) => j.status === "pending" && /ECONNREFUSED/.test(j.lastError ?? ""))).toBe(true);
  await gateway.up();
  const upAt = Date.now();

  await waitUntil("the whole batch", async () => (await succeeded(patient)).length === batch.length, 60_000);
  const recoveredMs = Date.now() - upAt;
  const jobs = await patient.list();
  expect(jobs.map((j) => j.status)).toEqual(Array(batch.length).fill("succeeded"));
  const retried = jobs.filter((j) => j.attempts > 1).length;
  for (const key of batch) {
    // Processed: the report is there, and the function saw the video (twice at most, when the
    // outage cut its call mid-flight and the retry repeated it).
    const stem = key.replace(/\.mp4$/, "");
    await s3.send(new HeadObjectCommand({ Bucket: output, Key: `${stem}.csv` }));
    expect(fn.started(key), key).toBeGreaterThanOrEqual(1);
    expect(fn.started(key), key).toBeLessThanOrEqual(2);
  }
  console.log(
    `outage ${OUTAGE_MS / 1000} s: ${doneBefore} of ${batch.length} done before it, ${retried} jobs retried, ` +
      `batch finished ${(recoveredMs / 1000).toFixed(1)} s after the gateway returned`,
  );
  const metrics = await (await fetch(`${first.url}/metrics`)).text();
  expect(metrics).toMatch(/facerec_trigger_retries_total [1-9]/);

  // `trigger retry`: one by key, then all the others.
  const one = await triggerCommand(["retry", "hasty/video-0.mp4"], hastyEnv);
  expect(one.code).toBe(0);
  expect(one.stdout).toContain("re-queued hasty/video-0.mp4");
  const missing = await triggerCommand(["retry", "hasty/nothing.mp4"], hastyEnv);
  expect(missing.code).toBe(1);
  const rest = await triggerCommand(["retry", "--all-failed"], hastyEnv);
  expect(rest.stdout).toContain("re-queued 2 of 2 failed jobs");
  await waitUntil("the retried jobs", async () => (await succeeded(hasty)).length === late.length, 30_000);
  // A re-queued job starts over with a fresh attempt budget.
  expect((await hasty.list()).map((j) => [j.status, j.attempts])).toEqual(Array(late.length).fill(["succeeded", 1]));

  for (const trigger of triggers) expect(await trigger.kill("SIGTERM")).toEqual({ code: 0, signal: null });
});
