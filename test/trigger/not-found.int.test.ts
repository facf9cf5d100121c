// The 404 contract between the real function server and the trigger's invoker: the function marks
// its own "no such object" answer (cause "missing"), which alone fails a job for good; the 404 of a
// function that is not deployed is retried.
import { afterAll, beforeAll, expect, it } from "vitest";
import { GatewayInvoker } from "../../trigger/invoker.js";
import { MiniGateway } from "./support/gateway.js";
import { type FunctionProcess, startRealFunction } from "./support/processes.js";
import { createBuckets, s3Client, uniqueName } from "./support/services.js";

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
