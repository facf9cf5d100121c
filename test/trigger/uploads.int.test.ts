// Which upload a job is for, against real Ceph RGW and dynalite with a played function: the
// function is told the upload's ETag, a replaced upload ends "superseded", the same content
// uploaded again runs again (A→B→A), and one upload seen by both a poll and a push runs once.
import axios from "axios";
import { describe, expect, it } from "vitest";
import { elapse } from "../support/wait.js";
import { newestJob, until, withPlayedFunction } from "./support/daemons.js";
import { createBuckets, put, uniqueName } from "./support/services.js";

const played = withPlayedFunction();
const { fn, daemons } = played;

describe("uploads and their jobs", () => {
  it("sends the upload's ETag; a 409 superseded ends the job superseded: not failed, not retried, counted", async () => {
    const bucket = uniqueName("in-superseded");
    await createBuckets(played.s3, bucket);
    // The function's answer when the object no longer holds the ETag it was sent (handler.ts).
    fn.answer = (call) =>
      call.bucket === bucket
        ? { status: 409, body: { status: "superseded", bucket, key: call.key, reason: "replaced", outputs: [] } }
        : { status: 200 };
    const etag = await put(played.s3, bucket, "old.mp4", "first content");
    const { daemon, store, logger } = await daemons.start(bucket, played.url, { MAX_ATTEMPTS: "3" });
    const job = await until("the job to end", async () => {
      const j = await newestJob(store, bucket, "old.mp4");
      return j && j.status !== "running" && j.status !== "pending" ? j : undefined;
    });
    expect(job).toMatchObject({ status: "superseded", attempts: 1, lastStatusCode: 409, lastError: "replaced" });
    await elapse(1500); // several polls: a final job is not run again
    const calls = fn.calls.filter((c) => c.bucket === bucket);
    expect(calls.map((c) => c.etag)).toEqual([etag]);
    const metrics = await daemon.metrics.render();
    expect(metrics).toContain("facerec_trigger_videos_superseded_total 1");
    expect(metrics).not.toContain("facerec_trigger_videos_failed_total{");
    expect(metrics).toContain("facerec_trigger_retries_total 0");
    const line = logger.lines.find((l) => l.msg === "video superseded by a newer upload");
    expect(line).toMatchObject({ level: "info", videoKey: "old.mp4", etag });
  });

  it("runs the same content uploaded again (A→B→A), and each upload once though poll and push both see it", async () => {
    const bucket = uniqueName("in-reupload");
    await createBuckets(played.s3, bucket);
    fn.answer = () => ({ status: 200 });
    const { daemon, store } = await daemons.start(bucket, played.url, { POLL_INTERVAL_SECONDS: "0.3" });
    const key = "lecture.mp4";
    const etags: string[] = [];
    for (const [i, content] of ["content A", "content B", "content A"].entries()) {
      // Upload times are whole seconds: the next upload lands in a later second.
      if (i > 0) await elapse(1100);
      const etag = await put(played.s3, bucket, key, content);
      etags.push(etag);
      // Ceph's push for the same upload, racing the polls.
      const record = { eventName: "ObjectCreated:Put", s3: { bucket: { name: bucket }, object: { key, eTag: etag } } };
      await axios.post(`${daemon.url}/notifications`, { Records: [record] });
      await until(`upload ${i + 1} done`, async () => {
        const jobs = await store.findByKey(bucket, key);
        return jobs.length === i + 1 && jobs.every((j) => j.status === "succeeded") ? jobs : undefined;
      });
    }
    expect(etags[0]).toBe(etags[2]);
    expect(etags[0]).not.toBe(etags[1]);
    await elapse(1000); // a late duplicate from a poll or the push would show now
    const calls = fn.calls.filter((c) => c.bucket === bucket);
    expect(calls.map((c) => c.etag)).toEqual(etags);
    const jobs = await store.findByKey(bucket, key);
    expect(jobs.map((j) => [j.etag, j.status, j.attempts])).toEqual(etags.map((e) => [e, "succeeded", 1]));
    expect(new Set(jobs.map((j) => j.modified)).size).toBe(3);
  });
});
