// Must show: two daemons on the same bucket at once — no video invoked twice (counted on the real
// function's side), every video processed, and both replicas did part of the work.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FunctionProcess, TriggerProcess } from "./support/processes.js";
import { startRealFunction, startTrigger, tinyVideo } from "./support/processes.js";
import { createBuckets, dynamoStore, inParallel, put, s3Client, triggerEnv, uniqueName } from "./support/services.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const input = uniqueName("in-replicas");
const output = uniqueName("out-replicas");
const table = uniqueName("jobs-replicas");
const store = dynamoStore(table);
const keys = Array.from({ length: 16 }, (_, i) => `shared/video-${String(i).padStart(2, "0")}.mp4`);
let fn: FunctionProcess;
const triggers: TriggerProcess[] = [];

beforeAll(async () => {
  const s3 = s3Client();
  await createBuckets(s3, input, output);
  const [started] = await Promise.all([
    startRealFunction("function", { input, output }),
    tinyVideo().then((video) => inParallel(keys, 8, (key) => put(s3, input, key, video))),
  ]);
  fn = started;
});

afterAll(async () => {
  for (const trigger of triggers) await trigger.stop();
  await fn?.stop();
});

it("two replicas on one bucket never invoke the same video twice", async () => {
  const env = (id: string) =>
    triggerEnv({
      bucket: input,
      table,
      gatewayUrl: fn.url,
      TRIGGER_ID: id,
      // Both poll often and both queue every video: they compete for every claim.
      POLL_INTERVAL_SECONDS: "0.3",
      INVOKE_CONCURRENCY: "2",
    });
  triggers.push(
    ...(await Promise.all([startTrigger("replica-a", env("replica-a")), startTrigger("replica-b", env("replica-b"))])),
  );

  const deadline = Date.now() + 90_000;
  let jobs = await store.list();
  while (jobs.filter((job) => job.status === "succeeded").length < keys.length && Date.now() < deadline) {
    await sleep(250);
    jobs = await store.list();
  }
  expect(jobs.map((job) => [job.key, job.status]).sort()).toEqual(keys.map((key) => [key, "succeeded"]));
  // A little longer: a late duplicate would show up now.
  await sleep(1000);
  for (const key of keys) expect(fn.started(key), key).toBe(1);
  expect(fn.started()).toBe(keys.length);
  expect(jobs.every((job) => job.attempts === 1)).toBe(true);

  const byOwner = { a: 0, b: 0 };
  for (const job of jobs) byOwner[job.owner === "replica-a" ? "a" : "b"]++;
  console.log(`two replicas: replica-a ran ${byOwner.a}, replica-b ran ${byOwner.b} of ${keys.length}; no duplicates`);
  expect(byOwner.a).toBeGreaterThan(0);
  expect(byOwner.b).toBeGreaterThan(0);

  // Both saw every video; the losers of each race read the holder instead of invoking.
  for (const trigger of triggers) {
    expect(trigger.lines.filter((line) => line.msg === "invoking function").length).toBeLessThan(keys.length);
  }
  for (const trigger of triggers) expect(await trigger.kill("SIGTERM")).toEqual({ code: 0, signal: null });
});
