// Must show: kill -9 the daemon in the middle of a 30-video batch and start it again — all 30
// processed, and the real function invoked once per video (counted on the function side, from
// its "video started" log lines), apart from the calls that were cut off mid-flight.
import { expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { withRealBatch } from "./support/batch.js";
import { startTrigger } from "./support/processes.js";
import { triggerEnv } from "./support/services.js";

const CONCURRENCY = 3;

const keys = Array.from({ length: 30 }, (_, i) => `batch/video-${String(i).padStart(2, "0")}.mp4`);
const batch = withRealBatch("crash", keys);
const { input, table, store, triggers } = batch;

it("resumes after kill -9: all 30 processed, each invoked once except calls cut off mid-flight", async () => {
  const env = triggerEnv({
    bucket: input,
    table,
    gatewayUrl: batch.fn.url,
    INVOKE_CONCURRENCY: String(CONCURRENCY),
    POLL_INTERVAL_SECONDS: "0.5",
  });
  const first = await startTrigger("trigger-1", env);
  triggers.push(first);
  // Killed while it holds calls, so that the restart has cut-off calls to recover, not only a backlog.
  const holdsCalls = async () =>
    batch.fn.started() >= 10 && (await store.list()).some((job) => job.status === "running");
  expect(await waitFor(holdsCalls, Boolean, 60_000)).toBe(true);

  expect(await first.kill("SIGKILL")).toEqual({ code: null, signal: "SIGKILL" });
  // The claims the dead process still held: its calls cut off mid-flight.
  const cutOff = new Set((await store.list()).filter((job) => job.status === "running").map((job) => job.key));
  const doneBeforeKill = (await store.list()).filter((job) => job.status === "succeeded").length;
  expect(cutOff.size).toBeGreaterThanOrEqual(1);
  expect(cutOff.size).toBeLessThanOrEqual(CONCURRENCY);
  expect(doneBeforeKill).toBeLessThan(keys.length);

  const second = await startTrigger("trigger-2", env);
  triggers.push(second);
  const jobs = await waitFor(
    () => store.list(),
    (all) => all.filter((job) => job.status === "succeeded").length >= keys.length,
    90_000,
  );
  expect(jobs.map((job) => [job.key, job.status]).sort()).toEqual(keys.map((key) => [key, "succeeded"]));

  const counts = Object.fromEntries(keys.map((key) => [key, batch.fn.started(key)]));
  for (const key of keys) {
    if (cutOff.has(key)) expect(counts[key], key).toBeLessThanOrEqual(2);
    else expect(counts[key], key).toBe(1);
  }
  // The second process did the rest without redoing the first one's finished work.
  const redone = keys.filter((key) => (counts[key] ?? 0) > 1);
  console.log(
    `kill -9 after ${doneBeforeKill} of 30 done; ${cutOff.size} cut off mid-flight; ` +
      `re-invoked ${redone.length}; function calls ${batch.fn.started()} for 30 videos`,
  );
  expect(batch.fn.started()).toBe(keys.length + redone.length);

  expect(await second.kill("SIGTERM")).toEqual({ code: 0, signal: null });
});
