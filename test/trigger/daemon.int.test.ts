// The daemon in this process, against real Ceph RGW and dynalite, with the function played by a
// small real HTTP server (test/trigger/support/fake-function.ts) so that each answer can be
// chosen: permanent failures, the token, the push endpoint, async callbacks, metrics, shutdown.
import type { S3Client } from "@aws-sdk/client-s3";
import axios from "axios";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../lib/log.js";
import { readTriggerSettings } from "../../trigger/config.js";
import { CONFIRM_CONCURRENCY, type DaemonDeps, startDaemon } from "../../trigger/daemon.js";
import { MAX_RECORDS_PER_NOTIFICATION } from "../../trigger/server.js";
import { FakeFunction } from "./support/fake-function.js";
import { elapse } from "../support/wait.js";
import { newestJob, until } from "./support/daemons.js";
import { MiniGateway } from "./support/gateway.js";
import { createBuckets, dynamoStore, put, s3Client, triggerEnv, uniqueName } from "./support/services.js";

let s3: S3Client;
const fn = new FakeFunction();
let fnUrl: string;
const started: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  s3 = s3Client();
  fnUrl = await fn.start();
});

afterAll(async () => {
  for (const thing of started.reverse()) await thing.close().catch(() => undefined);
  await fn.close();
});

async function daemonFor(
  bucket: string,
  extra: Record<string, string> = {},
  gatewayUrl = fnUrl,
  deps: Omit<DaemonDeps, "logger"> = {},
) {
  const table = uniqueName("jobs");
  const logger = memoryLogger("trigger");
  const settings = readTriggerSettings(triggerEnv({ bucket, table, gatewayUrl, ...extra }));
  const daemon = await startDaemon(settings, { logger, ...deps });
  started.push({ close: () => daemon.stop() });
  return { daemon, logger, store: dynamoStore(table), settings };
}

/** A fresh bucket and a gateway with an async queue in front of the played function. */
async function asyncSetup(prefix: string) {
  const bucket = uniqueName(prefix);
  await createBuckets(s3, bucket);
  const gateway = new MiniGateway(fnUrl);
  const gatewayUrl = await gateway.start();
  started.push(gateway);
  return { bucket, gateway, gatewayUrl };
}

describe("the daemon with a played function", () => {
  it("records success, permanent failures with their reason, and sends the bearer token", async () => {
    const bucket = uniqueName("in-outcomes");
    await createBuckets(s3, bucket);
    fn.answer = (call) => {
      if (call.key.endsWith("broken.mp4")) return { status: 422, body: { error: "no video stream" } };
      if (call.key.endsWith("gone.mp4")) {
        // The function's own answer for a key that does not exist (handler.ts).
        return { status: 404, body: { status: "failed", error: "no such key", cause: "missing", outputs: [] } };
      }
      return { status: 200 };
    };
    const etag = await put(s3, bucket, "ok.mp4", "v1");
    await put(s3, bucket, "broken.mp4", "v2");
    await put(s3, bucket, "gone.mp4", "v3");
    await put(s3, bucket, "notes.txt", "not a video");
    const { store } = await daemonFor(bucket, { FUNCTION_TOKEN: "secret-token-123", MAX_ATTEMPTS: "3" });
    const jobs = await until("three finished jobs", async () => {
      const all = await store.list();
      return all.filter((j) => j.status === "succeeded" || j.status === "failed").length === 3 ? all : undefined;
    });
    const byKey = Object.fromEntries(jobs.map((j) => [j.key, j]));
    expect(byKey["ok.mp4"]).toMatchObject({ status: "succeeded", etag, attempts: 1, lastStatusCode: 200 });
    expect(byKey["broken.mp4"]).toMatchObject({
      status: "failed",
      attempts: 1,
      lastStatusCode: 422,
      lastError: "the function cannot process this video (422): no video stream",
    });
    expect(byKey["gone.mp4"]).toMatchObject({ status: "failed", attempts: 1, lastStatusCode: 404 });
    expect(byKey["notes.txt"]).toBeUndefined();
    const calls = fn.calls.filter((c) => c.bucket === bucket);
    expect(calls.map((c) => c.authorization)).toEqual(Array(3).fill("Bearer secret-token-123"));
    // Permanent answers are not retried, whatever the attempt budget.
    await elapse(1500); // several polls
    expect(fn.calls.filter((c) => c.bucket === bucket)).toHaveLength(3);
  });

  it("retries 503 with backoff, then gives up and keeps the reason", async () => {
    const bucket = uniqueName("in-retry");
    await createBuckets(s3, bucket);
    fn.answer = () => ({ status: 503, body: "overloaded" });
    await put(s3, bucket, "busy.mp4", "v");
    const { store, daemon } = await daemonFor(bucket, { MAX_ATTEMPTS: "3", RETRY_BASE_SECONDS: "0.1" });
    const job = await until("the job to fail", async () => {
      const [j] = await store.list();
      return j?.status === "failed" ? j : undefined;
    });
    expect(job).toMatchObject({ attempts: 3, lastStatusCode: 503 });
    expect(job.lastError).toBe("gave up after 3 attempts; last error: HTTP 503: overloaded");
    const times = fn.calls.filter((c) => c.bucket === bucket).map((c) => c.at);
    expect(times).toHaveLength(3);
    // Backoff: 50–100 ms, then 100–200 ms, plus the poll tick that may pick it up first.
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(45);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(95);
    // The counter moves just after the write the test saw.
    const metrics = await until("the failure counted", async () => {
      const text = await daemon.metrics.render();
      return text.includes('facerec_trigger_videos_failed_total{kind="exhausted"} 1') ? text : undefined;
    });
    expect(metrics).toContain("facerec_trigger_retries_total 2");
  });

  it("retries at the backoff's time, not at the next poll", async () => {
    const bucket = uniqueName("in-backoff");
    await createBuckets(s3, bucket);
    fn.answer = (call) => (call.bucket === bucket && fn.count(call.key) === 1 ? { status: 503 } : { status: 200 });
    await put(s3, bucket, "flaky.mp4", "f");
    // A poll every 5 minutes: only the runner's own retry can run the second attempt this soon.
    const { store, daemon } = await daemonFor(bucket, { POLL_INTERVAL_SECONDS: "300", RETRY_BASE_SECONDS: "0.2" });
    const job = await until(
      "the retry to succeed",
      async () => {
        const j = await newestJob(store, bucket, "flaky.mp4");
        return j?.status === "succeeded" ? j : undefined;
      },
      5_000,
    );
    expect(job.attempts).toBe(2);
    const times = fn.calls.filter((c) => c.bucket === bucket).map((c) => c.at);
    expect(times).toHaveLength(2);
    // The first retry waits 100–200 ms (RETRY_BASE_SECONDS 0.2, half to all of it).
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(95);
    expect(await daemon.metrics.render()).toContain("facerec_trigger_retries_total 1");
  });

  it("retries a 404 that is not the function's own (the function is not deployed yet)", async () => {
    const bucket = uniqueName("in-undeployed");
    await createBuckets(s3, bucket);
    // What the gateway says for a function it does not know, twice; then the function is there.
    fn.answer = (call) =>
      call.bucket === bucket && fn.count(call.key) <= 2 ? { status: 404, body: "Not Found" } : { status: 200 };
    await put(s3, bucket, "early.mp4", "e");
    const { store } = await daemonFor(bucket, { MAX_ATTEMPTS: "5" });
    const job = await until("success after the function appears", async () => {
      const j = await newestJob(store, bucket, "early.mp4");
      return j?.status === "succeeded" || j?.status === "failed" ? j : undefined;
    });
    expect(job).toMatchObject({ status: "succeeded", attempts: 3 });
  });

  it("treats busy answers (429) as no attempt: 2 replicas × 2 calls against a function that takes one", async () => {
    const bucket = uniqueName("in-busy");
    await createBuckets(s3, bucket);
    const keys = Array.from({ length: 6 }, (_, i) => `long-${i}.mp4`);
    for (const key of keys) await put(s3, bucket, key, key);
    // max_inflight 1: a call that arrives while another runs is refused with 429, as the watchdog does.
    const ends: number[] = [];
    fn.answer = (call) => {
      if (call.bucket !== bucket) return { status: 200 };
      if (ends.some((end) => end > call.at)) return { status: 429, body: "Concurrent request limit exceeded" };
      ends.push(call.at + 400);
      return { status: 200, delayMs: 400 };
    };
    const table = uniqueName("jobs");
    // Two attempts only: before busy answers were free, the burst used them up.
    const env = triggerEnv({ bucket, table, gatewayUrl: fnUrl, INVOKE_CONCURRENCY: "2", MAX_ATTEMPTS: "2" });
    const daemons = [];
    for (const id of ["a", "b"]) {
      const daemon = await startDaemon(readTriggerSettings({ ...env, TRIGGER_ID: id }), { logger: memoryLogger() });
      started.push({ close: () => daemon.stop() });
      daemons.push(daemon);
    }
    const store = dynamoStore(table);
    const jobs = await until(
      "every job finished",
      async () => {
        const all = await store.list();
        return all.length === keys.length && all.every((j) => j.status === "succeeded" || j.status === "failed")
          ? all
          : undefined;
      },
      40_000,
    );
    expect(jobs.map((j) => [j.key, j.status, j.attempts]).sort()).toEqual(keys.map((k) => [k, "succeeded", 1]));
    const refused = fn.calls.filter((c) => c.bucket === bucket).length - keys.length;
    expect(refused).toBeGreaterThan(0);
    const texts = await Promise.all(daemons.map((d) => d.metrics.render()));
    const counted = texts
      .map((text) => /facerec_trigger_busy_total (\d+)/.exec(text)?.[1])
      .reduce((sum, n) => sum + Number(n ?? 0), 0);
    expect(counted).toBe(refused);
  });

  it("answers a Ceph notification at once and starts the video well within a second", async () => {
    const bucket = uniqueName("in-push");
    await createBuckets(s3, bucket);
    fn.answer = () => ({ status: 200 });
    // A poll every 5 minutes: only the push can be this quick.
    const { daemon, store, logger } = await daemonFor(bucket, { POLL_INTERVAL_SECONDS: "300" });
    // Uploaded after the first poll has listed the bucket, so only the push can find it.
    await until("the first poll to end", () => logger.lines.find((l) => l.msg === "poll done"));
    const key = "pushed/clip 01+ü.mp4";
    const etag = await put(s3, bucket, key, "pushed video");
    const record = {
      eventSource: "ceph:s3",
      eventName: "ObjectCreated:Put",
      s3: { bucket: { name: bucket }, object: { key, eTag: etag, size: 12 } },
    };
    const sent = Date.now();
    const answer = await axios.post(`${daemon.url}/notifications`, { Records: [record] });
    expect(answer.status).toBe(200);
    const call = await until("the invocation", () => fn.calls.find((c) => c.bucket === bucket && c.key === key));
    expect(call.at - sent).toBeLessThan(1000);
    await until("success", async () =>
      (await newestJob(store, bucket, key))?.status === "succeeded" ? true : undefined,
    );
    // The same notification again (Ceph may repeat one): no second invocation.
    await axios.post(`${daemon.url}/notifications`, { Records: [record] });
    // Other buckets, removals and non-videos are ignored; a body that is not JSON is refused.
    await axios.post(`${daemon.url}/notifications`, {
      Records: [
        { ...record, s3: { bucket: { name: "elsewhere" }, object: { key: "x.mp4" } } },
        { ...record, eventName: "ObjectRemoved:Delete" },
        { ...record, s3: { bucket: { name: bucket }, object: { key: "x.txt" } } },
      ],
    });
    const bad = await axios.post(`${daemon.url}/notifications`, "{", {
      validateStatus: () => true,
      headers: { "Content-Type": "application/json" },
    });
    expect(bad.status).toBe(400);
    await elapse(500); // a quiet period: the repeat and the ignored records call nothing
    expect(fn.calls.filter((c) => c.bucket === bucket)).toHaveLength(1);
    const metrics = (await axios.get(`${daemon.url}/metrics`)).data as string;
    expect(metrics).toContain('facerec_trigger_videos_seen_total{source="push"} 1');
    expect(metrics).toContain('facerec_trigger_notifications_total{result="other_bucket"} 1');
    expect(metrics).toContain('facerec_trigger_notifications_total{result="filtered"} 1');
  });

  it("refuses notifications without the token when NOTIFY_TOKEN is set", async () => {
    const bucket = uniqueName("in-token");
    await createBuckets(s3, bucket);
    const { daemon } = await daemonFor(bucket, { NOTIFY_TOKEN: "push-secret-42" });
    const body = { Records: [] };
    const opts = { validateStatus: () => true };
    expect((await axios.post(`${daemon.url}/notifications`, body, opts)).status).toBe(401);
    expect((await axios.post(`${daemon.url}/notifications?token=wrong`, body, opts)).status).toBe(401);
    expect((await axios.post(`${daemon.url}/notifications?token=push-secret-42`, body, opts)).status).toBe(200);
  });

  it("bounds what a push can start: records per request, and HEADs at once", async () => {
    const bucket = uniqueName("in-flood");
    await createBuckets(s3, bucket);
    // The real RGW, with the HeadObject requests in flight counted.
    const counted = s3Client();
    let heads = 0;
    let inFlight = 0;
    let peak = 0;
    counted.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "HeadObjectCommand") return next(args);
        heads++;
        peak = Math.max(peak, ++inFlight);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: "initialize" },
    );
    const { daemon } = await daemonFor(bucket, { POLL_INTERVAL_SECONDS: "300" }, fnUrl, { s3: counted });
    const record = (key: string) => ({
      eventSource: "ceph:s3",
      eventName: "ObjectCreated:Put",
      s3: { bucket: { name: bucket }, object: { key } },
    });
    const opts = { validateStatus: () => true };
    const many = Array.from({ length: MAX_RECORDS_PER_NOTIFICATION + 1 }, (_, i) => record(`flood-${i}.mp4`));
    expect((await axios.post(`${daemon.url}/notifications`, { Records: many }, opts)).status).toBe(413);
    // Within the limit, for keys that do not exist: each is HEADed (3 times, as a push may arrive
    // before the object is readable), never more than CONFIRM_CONCURRENCY at once.
    const allowed = many.slice(0, MAX_RECORDS_PER_NOTIFICATION);
    expect((await axios.post(`${daemon.url}/notifications`, { Records: allowed }, opts)).status).toBe(200);
    await until("every record confirmed", () => (heads >= 3 * allowed.length && inFlight === 0 ? true : undefined));
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(CONFIRM_CONCURRENCY);
    expect(fn.calls.filter((c) => c.bucket === bucket)).toEqual([]);
  });

  it("logs neither the notify token of a refused push nor the gateway URL's password", async () => {
    const bucket = uniqueName("in-secrets");
    await createBuckets(s3, bucket);
    // A base64 token is URL-encoded in the push URL, where masking the token's own text misses it.
    const token = "push+token/base64==";
    const gateway = new URL(fnUrl);
    gateway.username = "admin";
    gateway.password = "gateway-pa55";
    const { daemon, logger } = await daemonFor(bucket, { NOTIFY_TOKEN: token }, gateway.toString());
    const refused = await axios.post(`${daemon.url}/notifications?token=${encodeURIComponent(token)}`, "{", {
      validateStatus: () => true,
      headers: { "Content-Type": "application/json" },
    });
    expect(refused.status).toBe(400);
    await until("the refusal logged", () => logger.lines.find((l) => l.msg === "request refused"));
    const text = JSON.stringify(logger.lines);
    expect(text).toContain('"function":"http://127.0.0.1:');
    for (const secret of [encodeURIComponent(token), token, "gateway-pa55"]) expect(text).not.toContain(secret);
  });

  it("async mode: queued through /async-function, outcome recorded from the callback", async () => {
    const { bucket, gateway, gatewayUrl } = await asyncSetup("in-async");
    fn.answer = (call) =>
      call.key === "bad.mp4" ? { status: 422, body: { error: "not a video" } } : { status: 200, delayMs: 300 };
    await put(s3, bucket, "good.mp4", "a");
    await put(s3, bucket, "bad.mp4", "b");
    // No CALLBACK_URL: the daemon's own address, with the port it got.
    const { store, daemon } = await daemonFor(bucket, { INVOKE_MODE: "async" }, gatewayUrl);
    const jobs = await until("both outcomes", async () => {
      const all = await store.list();
      return all.length === 2 && all.every((j) => j.status !== "running") ? all : undefined;
    });
    const byKey = Object.fromEntries(jobs.map((j) => [j.key, j]));
    expect(byKey["good.mp4"]).toMatchObject({ status: "succeeded", lastStatusCode: 200 });
    expect(byKey["good.mp4"]?.callId).toBeTruthy();
    expect(byKey["bad.mp4"]).toMatchObject({ status: "failed", lastStatusCode: 422 });
    expect(gateway.requests.every((r) => r.path === "/async-function/face-recognition")).toBe(true);
    // A callback with a claim that is not current is refused.
    const stale = await axios.post(
      `${daemon.url}/callback?bucket=${bucket}&key=good.mp4&etag=x&claim=nope`,
      {},
      { headers: { "X-Function-Status": "200" }, validateStatus: () => true },
    );
    expect(stale.status).toBe(409);
  });

  it("async mode: a call that waits in the gateway's queue past one call's timeout is not run again", async () => {
    const { bucket, gatewayUrl } = await asyncSetup("in-backlog");
    // 3 s from the 202 to the callback, as behind a backlog in the queue: longer than
    // INVOKE_TIMEOUT_SECONDS + CLAIM_TIMEOUT_SECONDS, with a poll every 0.2 s to notice a lapsed claim.
    fn.answer = () => ({ status: 200, delayMs: 3000 });
    await put(s3, bucket, "queued.mp4", "q");
    const { store, logger } = await daemonFor(
      bucket,
      { INVOKE_MODE: "async", INVOKE_TIMEOUT_SECONDS: "1", CLAIM_TIMEOUT_SECONDS: "0.6", POLL_INTERVAL_SECONDS: "0.2" },
      gatewayUrl,
    );
    const job = await until("the callback's outcome", async () => {
      const j = await newestJob(store, bucket, "queued.mp4");
      return j?.status === "succeeded" ? j : undefined;
    });
    expect(job.attempts).toBe(1);
    expect(fn.calls.filter((c) => c.bucket === bucket)).toHaveLength(1);
    expect(logger.lines.filter((l) => l.msg === "stale callback ignored")).toEqual([]);
  });

  it("keeps a call longer than the claim timeout to one replica (the claim is renewed)", async () => {
    const bucket = uniqueName("in-long");
    await createBuckets(s3, bucket);
    fn.answer = () => ({ status: 200, delayMs: 2500 });
    await put(s3, bucket, "long.mp4", "l");
    const table = uniqueName("jobs");
    const env = triggerEnv({
      bucket,
      table,
      gatewayUrl: fnUrl,
      CLAIM_TIMEOUT_SECONDS: "0.6",
      POLL_INTERVAL_SECONDS: "0.2",
    });
    for (const id of ["a", "b"]) {
      const daemon = await startDaemon(readTriggerSettings({ ...env, TRIGGER_ID: id }), { logger: memoryLogger() });
      started.push({ close: () => daemon.stop() });
    }
    const store = dynamoStore(table);
    await until("success", async () =>
      (await newestJob(store, bucket, "long.mp4"))?.status === "succeeded" ? true : undefined,
    );
    expect(fn.calls.filter((c) => c.bucket === bucket)).toHaveLength(1);
  });

  it("serves /healthz, and on stop lets the running call finish", async () => {
    const bucket = uniqueName("in-stop");
    await createBuckets(s3, bucket);
    fn.answer = () => ({ status: 200, delayMs: 1500 });
    await put(s3, bucket, "slow.mp4", "s");
    const { daemon, store } = await daemonFor(bucket);
    expect((await axios.get(`${daemon.url}/healthz`)).data).toEqual({ status: "ok" });
    await until("the call to start", () => fn.calls.find((c) => c.bucket === bucket));
    const t0 = Date.now();
    expect(await daemon.stop()).toEqual({ drained: true });
    expect(Date.now() - t0).toBeGreaterThan(800);
    expect(await newestJob(store, bucket, "slow.mp4")).toMatchObject({ status: "succeeded" });
  });
});
