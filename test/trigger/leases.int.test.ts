// Leases between replicas, against real dynalite and Ceph RGW with a played function: expiry is
// judged on each replica's own clock (a skewed wall clock changes nothing), a holder that cannot
// renew gives its call up before another replica may take the job, and shutdown releases a call
// it cannot wait for so another replica runs it at once.
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { newestJob, until, withPlayedFunction } from "./support/daemons.js";
import type { FakeCall } from "./support/fake-function.js";
import { createBuckets, dynamoClient, dynamoStore, put, uniqueName } from "./support/services.js";

const played = withPlayedFunction();
const { fn, daemons } = played;

/** A real client whose lease renewals (updates that bump leaseVersion while held) fail. */
function clientThatCannotRenew(): DynamoDBDocumentClient {
  const client = dynamoClient();
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { ExpressionAttributeNames?: Record<string, string>; ConditionExpression?: string };
      const held = input.ConditionExpression?.includes(":heldToken") ?? false;
      if (held && Object.values(input.ExpressionAttributeNames ?? {}).includes("leaseVersion")) {
        throw new Error("injected: the jobs table is unreachable from this replica");
      }
      return next(args);
    },
    { step: "initialize" },
  );
  return client;
}

/** Whether call is the first to bucket. */
const firstOf = (call: FakeCall, bucket: string) => fn.calls.find((c) => c.bucket === bucket) === call;

async function bucketWith(prefix: string, key: string): Promise<string> {
  const bucket = uniqueName(prefix);
  await createBuckets(played.s3, bucket);
  await put(played.s3, bucket, key, `${prefix} video`);
  return bucket;
}

describe("leases", () => {
  it("a replica whose wall clock is an hour ahead does not take over a call that is being renewed", async () => {
    const bucket = await bucketWith("in-skew", "long.mp4");
    fn.answer = () => ({ status: 200, delayMs: 2500 });
    const env = { CLAIM_TIMEOUT_SECONDS: "0.6", POLL_INTERVAL_SECONDS: "0.2" };
    const a = await daemons.start(bucket, played.url, { ...env, TRIGGER_ID: "a" });
    await until("the call", () => fn.calls.find((c) => c.bucket === bucket));
    const b = await daemons.start(
      bucket,
      played.url,
      { ...env, TRIGGER_ID: "b" },
      { now: () => Date.now() + 3_600_000 },
      a.table,
    );
    const job = await until("success", async () => {
      const j = await newestJob(a.store, bucket, "long.mp4");
      return j?.status === "succeeded" ? j : undefined;
    });
    if (job.attempts !== 1) console.log(JSON.stringify([...a.logger.lines, ...b.logger.lines].filter((l) => l.jobId)));
    expect(job).toMatchObject({ owner: "a" });
    expect(b.logger.lines.map((l) => l.msg)).not.toContain("took over a lapsed claim");
    expect(fn.calls.filter((c) => c.bucket === bucket)).toHaveLength(1);
  });

  it("a holder whose renewals fail gives its call up and records nothing; another replica then takes the job", async () => {
    const bucket = await bucketWith("in-lapse", "clip.mp4");
    fn.answer = (call) => (firstOf(call, bucket) ? { status: 200, delayMs: 4000 } : { status: 200 });
    const table = uniqueName("jobs");
    const env = { CLAIM_TIMEOUT_SECONDS: "0.6", POLL_INTERVAL_SECONDS: "0.2" };
    const store = dynamoStore(table, clientThatCannotRenew());
    const a = await daemons.start(bucket, played.url, { ...env, TRIGGER_ID: "a" }, { store }, table);
    const first = await until("the first call", () => fn.calls.find((c) => c.bucket === bucket));
    const b = await daemons.start(bucket, played.url, { ...env, TRIGGER_ID: "b" }, {}, table);
    const job = await until("success", async () => {
      const j = await newestJob(b.store, bucket, "clip.mp4");
      return j?.status === "succeeded" ? j : undefined;
    });
    expect(job).toMatchObject({ owner: "b", attempts: 2 });
    const calls = fn.calls.filter((c) => c.bucket === bucket);
    expect(calls).toHaveLength(2);
    // a ended its own call within its lease, before b could take the job over.
    expect(first.closedEarly).toBe(true);
    expect((calls[1]?.at ?? 0) - first.at).toBeGreaterThanOrEqual(600);
    expect(a.logger.lines.map((l) => l.msg)).toContain(
      "lease not renewed for a whole lease: call given up, outcome not recorded",
    );
    expect(a.logger.lines.map((l) => l.msg)).not.toContain("video succeeded");
    expect(await a.daemon.metrics.render()).toContain('facerec_trigger_calls_given_up_total{reason="lapsed"} 1');
    expect(await b.daemon.metrics.render()).toContain("facerec_trigger_claims_taken_over_total 1");
  });

  it("at shutdown, a call longer than the timeout is given up and released: another replica runs it at once", async () => {
    const bucket = await bucketWith("in-release", "long.mp4");
    fn.answer = (call) => (firstOf(call, bucket) ? { status: 200, delayMs: 10_000 } : { status: 200 });
    // A 30 s lease: only the release can let the other replica in this soon.
    const env = { CLAIM_TIMEOUT_SECONDS: "30", POLL_INTERVAL_SECONDS: "0.2", SHUTDOWN_TIMEOUT_SECONDS: "0.5" };
    const a = await daemons.start(bucket, played.url, { ...env, TRIGGER_ID: "a" });
    const first = await until("the first call", () => fn.calls.find((c) => c.bucket === bucket));
    await daemons.start(bucket, played.url, { ...env, TRIGGER_ID: "b" }, {}, a.table);
    const stopping = Date.now();
    expect(await a.daemon.stop()).toEqual({ drained: false });
    const job = await until("success", async () => {
      const j = await newestJob(a.store, bucket, "long.mp4");
      return j?.status === "succeeded" ? j : undefined;
    });
    expect(Date.now() - stopping).toBeLessThan(5000);
    // The released attempt was given back: the job counts only b's call.
    expect(job).toMatchObject({ owner: "b", attempts: 1 });
    expect(first.closedEarly).toBe(true);
    expect(a.logger.lines.map((l) => l.msg)).toContain("stopping: call given up and the job released");
  });
});
