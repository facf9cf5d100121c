// Must show: two daemons on the same bucket at once — no video invoked twice (counted on the real
// function's side), every video processed, and both replicas did part of the work.
import { expect, it } from "vitest";
import { elapse, waitFor } from "../support/wait.js";
import { withRealBatch } from "./support/batch.js";
import { startTrigger } from "./support/processes.js";
import { triggerEnv } from "./support/services.js";

const keys = Array.from({ length: 16 }, (_, i) => `shared/video-${String(i).padStart(2, "0")}.mp4`);
const batch = withRealBatch("replicas", keys);
const { input, table, store, triggers } = batch;

it("two replicas on one bucket never invoke the same video twice", async () => {
  const env = (id: string) =>
    triggerEnv({
      bucket: input,
      table,
      gatewayUrl: batch.fn.url,
      TRIGGER_ID: id,
      // Both poll often and both queue every video: they compete for every claim.
      POLL_INTERVAL_SECONDS: "0.3",
      INVOKE_CONCURRENCY: "2",
    });
  triggers.push(
    ...(await Promise.all([startTrigger("replica-a", env("replica-a")), startTrigger("replica-b", env("replica-b"))])),
  );

  const jobs = await waitFor(
    () => store.list(),
    (all) => all.filter((job) => job.status === "succeeded").length >= keys.length,
    90_000,
  );
  expect(jobs.map((job) => [job.key, job.status]).sort()).toEqual(keys.map((key) => [key, "succeeded"]));
  // A little longer: a late duplicate would show up now.
  await elapse(1000);
  for (const key of keys) expect(batch.fn.started(key), key).toBe(1);
  expect(batch.fn.started()).toBe(keys.length);
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
