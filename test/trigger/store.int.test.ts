// The jobs table against a real DynamoDB API (dynalite): the conditional writes are the whole
// guarantee that replicas never both invoke, so they are tested here directly, under contention.
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { type Claim, jobIdOf, type VideoRef } from "../../trigger/jobs/job.js";
import { dynamoClient, dynamoStore, uniqueName } from "./support/services.js";

const store = dynamoStore(uniqueName("jobs-store"));
const video = (key: string, etag = "e1", modified = "2026-01-01T00:00:00Z"): VideoRef => ({
  bucket: "in",
  key,
  etag,
  modified,
});

/** A claim that must succeed. */
async function claimed(...args: Parameters<typeof store.claim>): Promise<Claim> {
  const result = await store.claim(...args);
  if (!result.claimed) throw new Error("expected a claim");
  return result.claim;
}

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

  it("never lets a finished job be claimed again; a new ETag, or the same content uploaded again, is a new job", async () => {
    const ref = video("done.mp4");
    const first = await claimed(ref, "a", Date.now(), 60_000);
    const done = { now: Date.now(), statusCode: 200, status: "succeeded", result: '{"ok":true}' } as const;
    expect(await store.finish(first, done)).toBe(true);
    const again = await store.claim(ref, "b", Date.now() + 10_000_000, 60_000);
    expect(again).toMatchObject({ claimed: false, job: { status: "succeeded", result: '{"ok":true}' } });
    expect((await store.claim(video("done.mp4", "e2"), "b", Date.now(), 60_000)).claimed).toBe(true);
    // A→B→A: the first content again, uploaded later.
    const reupload = await store.claim(video("done.mp4", "e1", "2026-01-01T00:00:09Z"), "b", Date.now(), 60_000);
    expect(reupload.claimed).toBe(true);
    const uploads = (await store.findByKey("in", "done.mp4")).map((j) => `${j.etag}@${j.modified}`).sort();
    expect(uploads).toEqual(["e1@2026-01-01T00:00:00Z", "e1@2026-01-01T00:00:09Z", "e2@2026-01-01T00:00:00Z"]);
  });

  it("takes a running job over only under the very lease seen, and fences the old holder out", async () => {
    const ref = video("crash.mp4");
    const now = Date.now();
    const dead = await claimed(ref, "dead", now, 1000);
    // No wall-clock expiry: however late another replica's clock says it is, a running job stays held.
    expect((await store.claim(ref, "b", now + 3_600_000, 1000)).claimed).toBe(false);
    expect((await store.claim(ref, "b", now, 1000, { token: "another", version: 0 })).claimed).toBe(false);
    // A renewal since the sighting wins over the takeover.
    expect(await store.renew(dead, { now })).toBe(true);
    expect((await store.claim(ref, "b", now, 1000, { token: dead.token, version: 0 })).claimed).toBe(false);
    const taken = await store.claim(ref, "b", now, 1000, { token: dead.token, version: 1 });
    if (!taken.claimed) throw new Error("expected the lapsed lease to be taken over");
    expect(taken.claim.job).toMatchObject({ attempts: 2, leaseVersion: 0, owner: "b" });
    // The first holder wakes up late: none of its writes may land.
    expect(await store.finish(dead, { now, status: "succeeded" })).toBe(false);
    expect(await store.finish(dead, { now, status: "failed", reason: "x" })).toBe(false);
    expect(await store.later(dead, { now, reason: "x", nextAttemptAt: 0 })).toBe(false);
    expect(await store.renew(dead, { now })).toBe(false);
    expect(await store.release(dead, { now })).toBe(false);
    expect(await store.finish(taken.claim, { now, statusCode: 200, status: "succeeded" })).toBe(true);
    expect(await store.get(ref)).toMatchObject({ status: "succeeded", owner: "b", attempts: 2 });
  });

  it("keeps a transient failure pending until its next attempt is due", async () => {
    const ref = video("retry.mp4");
    const now = Date.now();
    const c1 = await claimed(ref, "a", now, 60_000);
    expect(await store.later(c1, { now, statusCode: 503, reason: "HTTP 503", nextAttemptAt: now + 5000 })).toBe(true);
    expect(await store.get(ref)).toMatchObject({ status: "pending", lastError: "HTTP 503", lastStatusCode: 503 });
    expect((await store.claim(ref, "b", now + 4999, 60_000)).claimed).toBe(false);
    const c2 = await store.claim(ref, "b", now + 5000, 60_000);
    expect(c2.claimed && c2.claim.job.attempts).toBe(2);
  });

  it("gives a busy answer's attempt back, counts it, and keeps the job pending until it is due", async () => {
    const ref = video("busy.mp4");
    const now = Date.now();
    for (let i = 1; i <= 3; i++) {
      const c = await claimed(ref, "a", now + i * 1000, 60_000);
      expect(c.job.attempts).toBe(1);
      const due = now + i * 1000 + 500;
      const busy = { now, statusCode: 429, reason: "HTTP 429", nextAttemptAt: due, busy: true };
      expect(await store.later(c, busy)).toBe(true);
      expect(await store.get(ref)).toMatchObject({
        status: "pending",
        attempts: 0,
        busyAnswers: i,
        lastStatusCode: 429,
      });
      expect((await store.claim(ref, "b", due - 1, 60_000)).claimed).toBe(false);
    }
    // Only the holder of the claim may record it.
    const c = await claimed(ref, "a", now + 10_000, 60_000);
    const stolen = { ...c, token: "not-the-token" };
    expect(await store.later(stolen, { now, reason: "x", nextAttemptAt: 0, busy: true })).toBe(false);
    expect(await store.get(ref)).toMatchObject({ status: "running", attempts: 1, busyAnswers: 3 });
  });

  it("records a permanent failure with its reason, and re-queues it on request", async () => {
    const ref = video("bad.mp4");
    const c1 = await claimed(ref, "a", Date.now(), 60_000);
    await store.finish(c1, { now: Date.now(), statusCode: 422, status: "failed", reason: "not a video" });
    expect(await store.get(ref)).toMatchObject({ status: "failed", lastError: "not a video", lastStatusCode: 422 });
    expect((await store.claim(ref, "a", Date.now(), 60_000)).claimed).toBe(false);
    expect(await store.requeue(ref, Date.now())).toBe(true);
    expect(await store.requeue(ref, Date.now())).toBe(false); // only failed jobs
    const c2 = await store.claim(ref, "a", Date.now(), 60_000);
    expect(c2.claimed && c2.claim.job.attempts).toBe(1);
  });

  it("records a superseded upload as final: neither claimed again nor re-queued", async () => {
    const ref = video("replaced.mp4");
    const c = await claimed(ref, "a", Date.now(), 60_000);
    const outcome = { now: Date.now(), statusCode: 409, status: "superseded", reason: "replaced" } as const;
    expect(await store.finish(c, outcome)).toBe(true);
    expect(await store.get(ref)).toMatchObject({ status: "superseded", lastError: "replaced", lastStatusCode: 409 });
    expect((await store.claim(ref, "b", Date.now() + 10_000_000, 60_000)).claimed).toBe(false);
    expect(await store.requeue(ref, Date.now())).toBe(false);
  });

  it("renews a held claim by bumping its lease version, and only the holder can", async () => {
    const ref = video("renew.mp4");
    const now = Date.now();
    const c = await claimed(ref, "a", now, 1000);
    expect(c.job).toMatchObject({ leaseVersion: 0, leaseMs: 1000 });
    expect(await store.renew(c, { now })).toBe(true);
    expect(await store.renew(c, { now })).toBe(true);
    expect(await store.get(ref)).toMatchObject({ status: "running", leaseVersion: 2, owner: "a" });
    expect(await store.renew({ ...c, token: "not-the-token" }, { now })).toBe(false);
  });

  it("releases a held job at once: pending, due now, its attempt given back, claimable by another", async () => {
    const ref = video("release.mp4");
    const now = Date.now();
    const c = await claimed(ref, "a", now, 60_000);
    expect(await store.release(c, { now })).toBe(true);
    expect(await store.get(ref)).toMatchObject({ status: "pending", attempts: 0, nextAttemptAt: now });
    const b = await store.claim(ref, "b", now, 60_000);
    expect(b.claimed && b.claim.job).toMatchObject({ owner: "b", attempts: 1 });
  });

  it("extends an async claim until the callback: a new lease length and version", async () => {
    const ref = video("async.mp4");
    const now = Date.now();
    const c = await claimed(ref, "a", now, 1000);
    expect(await store.accepted(c, { now, statusCode: 202, callId: "call-1", leaseMs: 60_000 })).toBe(true);
    expect(await store.get(ref)).toMatchObject({
      status: "running",
      callId: "call-1",
      leaseMs: 60_000,
      leaseVersion: 1,
    });
  });

  it("reads many jobs at once (more than one BatchGet) and lists them all", async () => {
    const refs = Array.from({ length: 230 }, (_, i) => video(`many/${i}.mp4`));
    for (const ref of refs.slice(0, 150)) await store.claim(ref, "a", Date.now(), 60_000);
    const found = await store.getMany(refs);
    expect(found.size).toBe(150);
    expect(found.get(jobIdOf(refs[149] as VideoRef))?.key).toBe("many/149.mp4");
    expect((await store.list()).filter((j) => j.key.startsWith("many/"))).toHaveLength(150);
  });

  it("refuses a table keyed the older way (video, etag), where a re-upload of old content could never run", async () => {
    const old = uniqueName("jobs-old");
    await dynamoClient().send(
      new CreateTableCommand({
        TableName: old,
        AttributeDefinitions: [
          { AttributeName: "video", AttributeType: "S" },
          { AttributeName: "etag", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "video", KeyType: "HASH" },
          { AttributeName: "etag", KeyType: "RANGE" },
        ],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    await expect(dynamoStore(old).ensureTable()).rejects.toThrow(/older trigger; set JOBS_TABLE to a new table/);
  });

  it("stores keys with any characters, and objects without an ETag or upload time", async () => {
    const odd = { bucket: "in", key: "a b/ü+%20#?.mp4", etag: "", modified: "" };
    const c = await store.claim(odd, "a", Date.now(), 60_000);
    expect(c.claimed).toBe(true);
    expect(await store.get(odd)).toMatchObject({ key: "a b/ü+%20#?.mp4", etag: "", modified: "" });
  });
});
