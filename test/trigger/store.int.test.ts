// The jobs table against a real DynamoDB API (dynalite): the conditional writes are the whole
// guarantee that replicas never both invoke, so they are tested here directly, under contention.
import { beforeAll, describe, expect, it } from "vitest";
import { jobIdOf, type VideoRef } from "../../trigger/jobs/job.js";
import { dynamoStore, uniqueName } from "./support/services.js";

const store = dynamoStore(uniqueName("jobs-store"));
const video = (key: string, etag = "e1"): VideoRef => ({ bucket: "in", key, etag });

beforeAll(async () => {
  // Twice and at once, as two replicas starting together would.
  await Promise.all([store.ensureTable(), store.ensureTable()]);
  await store.ensureTable();
});

describe("DynamoJobStore", () => {
  it("lets exactly one of many simultaneous claims win, and reads the holder on conflict", async () => {
    const ref = video("race.mp4");
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.claim(ref, `replica-${i}`, Date.now(), 60_000)),
    );
    const winners = results.filter((r) => r.claimed);
    expect(winners).toHaveLength(1);
    const winner = winners[0];
    if (!winner?.claimed) throw new Error("unreachable");
    expect(winner.claim.job).toMatchObject({ status: "running", attempts: 1, jobId: jobIdOf(ref), key: "race.mp4" });
    for (const loser of results.filter((r) => !r.claimed)) {
      expect(!loser.claimed && loser.job?.owner).toBe(winner.claim.job.owner);
    }
  });

  it("never lets a finished job be claimed again; a new ETag is a new job", async () => {
    const ref = video("done.mp4");
    const first = await store.claim(ref, "a", Date.now(), 60_000);
    if (!first.claimed) throw new Error("expected a claim");
    expect(await store.succeed(first.claim, { now: Date.now(), statusCode: 200, result: '{"ok":true}' })).toBe(true);
    const again = await store.claim(ref, "b", Date.now() + 10_000_000, 60_000);
    expect(again).toMatchObject({ claimed: false, job: { status: "succeeded", result: '{"ok":true}' } });
    const reupload = await store.claim(video("done.mp4", "e2"), "b", Date.now(), 60_000);
    expect(reupload.claimed).toBe(true);
    expect((await store.findByKey("in", "done.mp4")).map((j) => j.etag).sort()).toEqual(["e1", "e2"]);
  });

  it("makes a crashed claim claimable after its expiry, and fences the old holder out", async () => {
    const ref = video("crash.mp4");
    const now = Date.now();
    const dead = await store.claim(ref, "dead", now, 1000);
    if (!dead.claimed) throw new Error("expected a claim");
    expect((await store.claim(ref, "b", now + 500, 1000)).claimed).toBe(false);
    const taken = await store.claim(ref, "b", now + 1500, 1000);
    if (!taken.claimed) throw new Error("expected the expired claim to be taken");
    expect(taken.claim.job.attempts).toBe(2);
    // The first holder wakes up late: none of its writes may land.
    expect(await store.succeed(dead.claim, { now: now + 1600 })).toBe(false);
    expect(await store.fail(dead.claim, { now: now + 1600, reason: "x" })).toBe(false);
    expect(await store.retryLater(dead.claim, { now: now + 1600, reason: "x", nextAttemptAt: 0 })).toBe(false);
    expect(await store.succeed(taken.claim, { now: now + 1700, statusCode: 200 })).toBe(true);
    expect(await store.get(ref)).toMatchObject({ status: "succeeded", owner: "b", attempts: 2 });
  });

  it("keeps a transient failure pending until its next attempt is due", async () => {
    const ref = video("retry.mp4");
    const now = Date.now();
    const c1 = await store.claim(ref, "a", now, 60_000);
    if (!c1.claimed) throw new Error("expected a claim");
    expect(
      await store.retryLater(c1.claim, { now, statusCode: 503, reason: "HTTP 503", nextAttemptAt: now + 5000 }),
    ).toBe(true);
    expect(await store.get(ref)).toMatchObject({ status: "pending", lastError: "HTTP 503", lastStatusCode: 503 });
    expect((await store.claim(ref, "b", now + 4999, 60_000)).claimed).toBe(false);
    const c2 = await store.claim(ref, "b", now + 5000, 60_000);
    expect(c2.claimed && c2.claim.job.attempts).toBe(2);
  });

  it("gives a busy answer's attempt back, counts it, and keeps the job pending until it is due", async () => {
    const ref = video("busy.mp4");
    const now = Date.now();
    for (let i = 1; i <= 3; i++) {
      const c = await store.claim(ref, "a", now + i * 1000, 60_000);
      if (!c.claimed) throw new Error("expected a claim");
      expect(c.claim.job.attempts).toBe(1);
      const due = now + i * 1000 + 500;
      expect(await store.busy(c.claim, { now, statusCode: 429, reason: "HTTP 429", nextAttemptAt: due })).toBe(true);
      expect(await store.get(ref)).toMatchObject({
        status: "pending",
        attempts: 0,
        busyAnswers: i,
        lastStatusCode: 429,
      });
      expect((await store.claim(ref, "b", due - 1, 60_000)).claimed).toBe(false);
    }
    // Only the holder of the claim may record it.
    const c = await store.claim(ref, "a", now + 10_000, 60_000);
    if (!c.claimed) throw new Error("expected a claim");
    const stolen = { ...c.claim, token: "not-the-token" };
    expect(await store.busy(stolen, { now, reason: "x", nextAttemptAt: 0 })).toBe(false);
    expect(await store.get(ref)).toMatchObject({ status: "running", attempts: 1, busyAnswers: 3 });
  });

  it("records a permanent failure with its reason, and re-queues it on request", async () => {
    const ref = video("bad.mp4");
    const c1 = await store.claim(ref, "a", Date.now(), 60_000);
    if (!c1.claimed) throw new Error("expected a claim");
    await store.fail(c1.claim, { now: Date.now(), statusCode: 422, reason: "not a video" });
    expect(await store.get(ref)).toMatchObject({ status: "failed", lastError: "not a video", lastStatusCode: 422 });
    expect((await store.claim(ref, "a", Date.now(), 60_000)).claimed).toBe(false);
    expect(await store.requeue(ref, Date.now())).toBe(true);
    expect(await store.requeue(ref, Date.now())).toBe(false); // only failed jobs
    const c2 = await store.claim(ref, "a", Date.now(), 60_000);
    expect(c2.claimed && c2.claim.job.attempts).toBe(1);
  });

  it("renews a held claim, and only the holder can", async () => {
    const ref = video("renew.mp4");
    const now = Date.now();
    const c = await store.claim(ref, "a", now, 1000);
    if (!c.claimed) throw new Error("expected a claim");
    expect(await store.renew(c.claim, { now: now + 900, claimExpiresAt: now + 1900 })).toBe(true);
    expect((await store.claim(ref, "b", now + 1500, 1000)).claimed).toBe(false);
    const stolen = { ...c.claim, token: "not-the-token" };
    expect(await store.renew(stolen, { now: now + 1600, claimExpiresAt: now + 99_000 })).toBe(false);
    expect((await store.claim(ref, "b", now + 2000, 1000)).claimed).toBe(true);
    expect(await store.renew(c.claim, { now: now + 2100, claimExpiresAt: now + 3100 })).toBe(false);
  });

  it("extends an async claim until the callback, which then records the outcome", async () => {
    const ref = video("async.mp4");
    const now = Date.now();
    const c = await store.claim(ref, "a", now, 1000);
    if (!c.claimed) throw new Error("expected a claim");
    expect(
      await store.accepted(c.claim, { now, statusCode: 202, callId: "call-1", claimExpiresAt: now + 60_000 }),
    ).toBe(true);
    expect((await store.claim(ref, "b", now + 2000, 1000)).claimed).toBe(false);
    expect(await store.get(ref)).toMatchObject({ status: "running", callId: "call-1" });
  });

  it("reads many jobs at once (more than one BatchGet) and lists them all", async () => {
    const refs = Array.from({ length: 230 }, (_, i) => video(`many/${i}.mp4`));
    for (const ref of refs.slice(0, 150)) await store.claim(ref, "a", Date.now(), 60_000);
    const found = await store.getMany(refs);
    expect(found.size).toBe(150);
    expect(found.get(jobIdOf(refs[149] as VideoRef))?.key).toBe("many/149.mp4");
    expect((await store.list()).filter((j) => j.key.startsWith("many/"))).toHaveLength(150);
  });

  it("stores keys with any characters, and objects without an ETag", async () => {
    const odd = { bucket: "in", key: "a b/ü+%20#?.mp4", etag: "" };
    const c = await store.claim(odd, "a", Date.now(), 60_000);
    expect(c.claimed).toBe(true);
    expect(await store.get(odd)).toMatchObject({ key: "a b/ü+%20#?.mp4", etag: "" });
  });
});
