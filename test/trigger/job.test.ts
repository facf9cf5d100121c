import { describe, expect, it } from "vitest";
import { dueIn, isClaimable, type Job, jobIdOf } from "../../trigger/jobs/job.js";

const base: Job = {
  bucket: "in",
  key: "a.mp4",
  etag: "e1",
  jobId: "x",
  status: "running",
  attempts: 1,
  createdAt: "",
  updatedAt: "",
};

describe("job rules", () => {
  it("a job id is stable and differs per upload (ETag)", () => {
    const a = jobIdOf({ bucket: "in", key: "a.mp4", etag: "e1" });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(jobIdOf({ bucket: "in", key: "a.mp4", etag: "e1" })).toBe(a);
    expect(jobIdOf({ bucket: "in", key: "a.mp4", etag: "e2" })).not.toBe(a);
    // No ambiguity between the parts.
    expect(jobIdOf({ bucket: "in", key: "a/b", etag: "" })).not.toBe(jobIdOf({ bucket: "in/a", key: "b", etag: "" }));
  });

  it("claimable: unseen, pending and due, or running past its claim", () => {
    const now = 1000;
    expect(isClaimable(undefined, now)).toBe(true);
    expect(isClaimable({ ...base, status: "pending", nextAttemptAt: 1000 }, now)).toBe(true);
    expect(isClaimable({ ...base, status: "pending", nextAttemptAt: 1001 }, now)).toBe(false);
    expect(isClaimable({ ...base, status: "running", claimExpiresAt: 999 }, now)).toBe(true);
    expect(isClaimable({ ...base, status: "running", claimExpiresAt: 1000 }, now)).toBe(false);
    expect(isClaimable({ ...base, status: "succeeded" }, now)).toBe(false);
    expect(isClaimable({ ...base, status: "failed" }, now)).toBe(false);
  });

  it("dueIn: now, later for a pending retry, never for finished or live claims", () => {
    expect(dueIn(undefined, 0)).toBe(0);
    expect(dueIn({ ...base, status: "pending", nextAttemptAt: 500 }, 100)).toBe(400);
    expect(dueIn({ ...base, status: "running", claimExpiresAt: 500 }, 100)).toBeUndefined();
    expect(dueIn({ ...base, status: "succeeded" }, 100)).toBeUndefined();
  });
});
