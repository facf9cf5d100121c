// The contract between the real function server and the trigger: the function marks its own "no
// such object" answer (cause "missing"), which alone fails a job for good; the 404 of a function
// that is not deployed is retried; a job for an upload that was replaced ends "superseded" (409).
import { afterAll, beforeAll, expect, it } from "vitest";
import { headObject } from "../../lib/s3.js";
import { memoryLogger } from "../../lib/log.js";
import { GatewayInvoker } from "../../trigger/invoker.js";
import { uploadTime } from "../../trigger/jobs/job.js";
import { LeaseObserver } from "../../trigger/jobs/lease.js";
import { createTriggerMetrics } from "../../trigger/metrics.js";
import { JobRunner } from "../../trigger/runner.js";
import { MiniGateway } from "./support/gateway.js";
import { type FunctionProcess, startRealFunction, tinyVideo } from "./support/processes.js";
import { createBuckets, dynamoStore, put, s3Client, uniqueName } from "./support/services.js";

const input = uniqueName("in-notfound");
const output = uniqueName("out-notfound");
let fn: FunctionProcess;
let gateway: MiniGateway;

beforeAll(async () => {
  await createBuckets(s3Client(), input, output);
  fn = await startRealFunction("function", { input, output });
  gateway = new MiniGateway(fn.url);
  await gateway.start();
});

afterAll(async () => {
  await gateway?.close();
  await fn?.stop();
});

const invoker = (functionName: string) =>
  new GatewayInvoker({ gatewayUrl: gateway.url, functionName, mode: "sync", timeoutMs: 30_000 });
const video = { bucket: input, key: "never-uploaded.mp4", etag: "" };

it("fails a job for good only on the function's own answer that the object does not exist", async () => {
  expect(await invoker("face-recognition").invoke({ video, jobId: "missing" })).toMatchObject({
    kind: "permanent",
    status: 404,
    reason: expect.stringMatching(/^the video no longer exists \(404\)/),
  });
});

it("retries the 404 of a function that is not deployed", async () => {
  expect(await invoker("face-recognition-not-deployed").invoke({ video, jobId: "undeployed" })).toMatchObject({
    kind: "transient",
    status: 404,
  });
});

it("ends the job of an upload that was replaced as superseded: the function refuses its stale ETag (409)", async () => {
  const s3 = s3Client();
  const key = "replaced.mp4";
  const etag = await put(s3, input, key, await tinyVideo());
  const modified = uploadTime((await headObject(s3, input, key)).lastModified);
  await put(s3, input, key, "the newer upload");
  const store = dynamoStore(uniqueName("jobs-superseded"));
  await store.ensureTable();
  const metrics = createTriggerMetrics(() => ({ depth: 0, active: 0 }));
  const scheduled: string[] = [];
  const runner = new JobRunner(
    {
      store,
      invoker: invoker("face-recognition"),
      metrics,
      logger: memoryLogger(),
      leases: new LeaseObserver(),
      schedule: (video) => scheduled.push(video.key),
    },
    { owner: "t", leaseMs: 30_000, maxAttempts: 3, backoff: { baseMs: 100, maxMs: 1000 } },
  );
  const ref = { bucket: input, key, etag, modified };
  await runner.run(ref);
  expect(await store.get(ref)).toMatchObject({ status: "superseded", attempts: 1, lastStatusCode: 409 });
  expect(scheduled).toEqual([]);
  expect(await metrics.render()).toContain("facerec_trigger_videos_superseded_total 1");
});
