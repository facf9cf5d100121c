// The gateway call over real HTTP, against the played function (no other services needed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../lib/net.js";
import { GatewayInvoker } from "../../trigger/invoker.js";
import { elapse, eventually } from "../support/wait.js";
import { FakeFunction } from "./support/fake-function.js";

const fn = new FakeFunction();
let url: string;
const video = { bucket: "in", key: "dir/clip 01+ü.mp4", etag: "9b2cf535f27731c974343645a3985328", modified: "" };

beforeAll(async () => {
  url = await fn.start();
});
afterAll(() => fn.close());

const invoker = (options: Partial<ConstructorParameters<typeof GatewayInvoker>[0]> = {}) =>
  new GatewayInvoker({ gatewayUrl: url, functionName: "face-recognition", mode: "sync", timeoutMs: 2000, ...options });

describe("GatewayInvoker", () => {
  it("POSTs {bucket, key, etag} to /function/<name> with the bearer token and the job id", async () => {
    fn.answer = () => ({ status: 200, body: { status: "succeeded", outputs: ["dir/clip 01+ü.csv"] } });
    const outcome = await invoker({ token: "tok-123456" }).invoke({ video, jobId: "j1" });
    expect(outcome).toEqual({
      kind: "succeeded",
      status: 200,
      result: JSON.stringify({ status: "succeeded", outputs: ["dir/clip 01+ü.csv"] }),
    });
    expect(fn.calls.at(-1)).toMatchObject({
      bucket: "in",
      key: "dir/clip 01+ü.mp4",
      // The upload's ETag, as the function reads it (invocation.ts): it downloads with If-Match.
      etag: "9b2cf535f27731c974343645a3985328",
      authorization: "Bearer tok-123456",
      jobId: "j1",
    });
  });

  it("sends no Authorization header without a token", async () => {
    fn.answer = () => ({ status: 200 });
    await invoker().invoke({ video, jobId: "j2" });
    expect(fn.calls.at(-1)?.authorization).toBeUndefined();
  });

  it("passes the function's 422 reason and the gateway's Retry-After through", async () => {
    fn.answer = () => ({ status: 422, body: { error: "not an MP4/MOV video" } });
    expect(await invoker().invoke({ video, jobId: "j3" })).toMatchObject({
      kind: "permanent",
      reason: "the function cannot process this video (422): not an MP4/MOV video",
    });
    fn.answer = () => ({ status: 429, body: "busy", headers: { "Retry-After": "3" } });
    expect(await invoker().invoke({ video, jobId: "j4" })).toMatchObject({ kind: "transient", retryAfterMs: 3000 });
  });

  it("turns a call that outlives the timeout into a transient outcome", async () => {
    fn.answer = () => ({ status: 200, delayMs: 1500 });
    const started = Date.now();
    expect(await invoker({ timeoutMs: 300 }).invoke({ video, jobId: "j5" })).toEqual({
      kind: "transient",
      reason: "no answer within 0.3 s (timeout)",
    });
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it("passes the function's 409 superseded through as its own outcome", async () => {
    fn.answer = () => ({ status: 409, body: { status: "superseded", reason: "replaced", outputs: [] } });
    expect(await invoker().invoke({ video, jobId: "j8" })).toEqual({
      kind: "superseded",
      status: 409,
      reason: "replaced",
    });
  });

  it("ends the call when its signal aborts: the function sees the request closed", async () => {
    fn.answer = () => ({ status: 200, delayMs: 1500 });
    const call = new AbortController();
    void elapse(200).then(() => call.abort("lost")); // given up mid-call, long before the answer
    const started = Date.now();
    await invoker().invoke({ video, jobId: "j9", signal: call.signal });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await eventually(() => fn.calls.at(-1)?.closedEarly === true, 1000)).toBe(true);
    expect(fn.calls.at(-1)).toMatchObject({ jobId: "j9", closedEarly: true });
  });

  it("turns a refused connection into a transient outcome", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const outcome = await invoker({ gatewayUrl: closed }).invoke({ video, jobId: "j6" });
    expect(outcome).toMatchObject({ kind: "transient", reason: expect.stringContaining("ECONNREFUSED") });
  });

  it("async mode: calls /async-function/<name>, and never without a callback URL", async () => {
    const async = invoker({ mode: "async" });
    expect(async.path).toBe("/async-function/face-recognition");
    await expect(async.invoke({ video, jobId: "j7" })).rejects.toThrow(/callback URL/);
  });
});
