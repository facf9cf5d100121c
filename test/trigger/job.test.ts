import { describe, expect, it } from "vitest";
import { dueIn, type Job, jobIdOf, uploadTime } from "../../trigger/jobs/job.js";

const base: Job = {
  bucket: "in",
  key: "a.mp4",
  etag: "e1",
  modified: "2026-01-01T00:00:00Z",
  jobId: "x",
  status: "running",
  attempts: 1,
  createdAt: "",
  updatedAt: "",
};

describe("job rules", () => {
  it("a job id is stable and differs per upload: ETag and upload time", () => {
    const ref = { bucket: "in", key: "a.mp4", etag: "e1", modified: "2026-01-01T00:00:00Z" };
    const a = jobIdOf(ref);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(jobIdOf({ ...ref })).toBe(a);
    expect(jobIdOf({ ...ref, etag: "e2" })).not.toBe(a);
    // A→B→A: the same content uploaded again later is another job.
    expect(jobIdOf({ ...ref, modified: "2026-01-01T00:00:05Z" })).not.toBe(a);
    // No ambiguity between the parts.
    expect(jobIdOf({ bucket: "in", key: "a/b", etag: "" })).not.toBe(jobIdOf({ bucket: "in/a", key: "b", etag: "" }));
  });

  it("an upload time is Last-Modified in whole seconds, whether a listing (ms) or a HEAD gave it", () => {
    expect(uploadTime(new Date("2026-03-04T05:06:07.891Z"))).toBe("2026-03-04T05:06:07Z");
    expect(uploadTime(new Date("Wed, 04 Mar 2026 05:06:07 GMT"))).toBe("2026-03-04T05:06:07Z");
    expect(uploadTime(undefined)).toBe("");
  });

  it("dueIn: now when unseen, later for a pending retry, at its lease's lapse when running, never when final", () => {
    const lapsesIn = (job: Job) => (job.leaseMs ?? 0) - 100;
    expect(dueIn(undefined, 0, lapsesIn)).toBe(0);
    expect(dueIn({ ...base, status: "pending", nextAttemptAt: 500 }, 100, lapsesIn)).toBe(400);
    expect(dueIn({ ...base, status: "pending", nextAttemptAt: 50 }, 100, lapsesIn)).toBe(0);
    expect(dueIn({ ...base, status: "running", leaseMs: 30_000 }, 100, lapsesIn)).toBe(29_900);
    for (const status of ["succeeded", "failed", "superseded"] as const) {
      expect(dueIn({ ...base, status }, 100, lapsesIn)).toBeUndefined();
    }
  });
});
