// Lease expiry as another replica judges it: on its own monotonic clock, from the moment it saw
// a lease version, never from a time the holder wrote.
import { describe, expect, it } from "vitest";
import type { Job } from "../../trigger/jobs/job.js";
import { LeaseObserver } from "../../trigger/jobs/lease.js";

const running = (version: number, token = "t1"): Job => ({
  bucket: "in",
  key: "a.mp4",
  etag: "e",
  modified: "",
  jobId: "j1",
  status: "running",
  attempts: 1,
  createdAt: "",
  updatedAt: "",
  claimToken: token,
  leaseVersion: version,
  leaseMs: 1000,
});

describe("LeaseObserver", () => {
  it("takes a lease for lapsed once its version was seen unchanged for the lease's duration", () => {
    let now = 5_000;
    const leases = new LeaseObserver(() => now);
    expect(leases.lapsesIn(running(0))).toBe(1000);
    expect(leases.lapsed("j1")).toBeUndefined();
    now += 600;
    expect(leases.lapsesIn(running(0))).toBe(400);
    now += 400;
    expect(leases.lapsesIn(running(0))).toBe(0);
    expect(leases.lapsed("j1")).toEqual({ token: "t1", version: 0 });
  });

  it("starts over at every renewal (a new version) or a new holder (a new token)", () => {
    let now = 0;
    const leases = new LeaseObserver(() => now);
    leases.lapsesIn(running(0));
    now = 900;
    expect(leases.lapsesIn(running(1))).toBe(1000);
    now = 1500;
    expect(leases.lapsed("j1")).toBeUndefined();
    expect(leases.lapsesIn(running(1, "t2"))).toBe(1000);
    now = 2500;
    expect(leases.lapsed("j1")).toEqual({ token: "t2", version: 1 });
  });

  it("needs its own sighting: a replica that just started waits a whole lease, whatever the wall clocks say", () => {
    const leases = new LeaseObserver(() => 0);
    expect(leases.lapsed("j1")).toBeUndefined();
    // A holder's record written an hour 'ago' by a skewed clock changes nothing.
    expect(leases.lapsesIn({ ...running(7), updatedAt: "2000-01-01T00:00:00Z" })).toBe(1000);
    leases.forget("j1");
    expect(leases.size).toBe(0);
  });
});
