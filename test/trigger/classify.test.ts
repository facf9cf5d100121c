// How every answer of the gateway/function maps to an outcome (pure; the real calls are tested
// in invoker.test.ts and the daemon tests).
import { describe, expect, it } from "vitest";
import { classifyNetworkError, classifyResponse, describeBody } from "../../trigger/invoker.js";

describe("classifyResponse", () => {
  it("200 is success, with the result kept as JSON text", () => {
    expect(classifyResponse(200, { status: "succeeded", people: [] })).toEqual({
      kind: "succeeded",
      status: 200,
      result: '{"status":"succeeded","people":[]}',
    });
  });

  it("422 and the function's own missing-object 404 are permanent, with the function's reason", () => {
    expect(classifyResponse(422, { error: "not a video: moov atom not found" })).toEqual({
      kind: "permanent",
      status: 422,
      reason: "the function cannot process this video (422): not a video: moov atom not found",
    });
    const missing = { status: "failed", bucket: "in", key: "a.mp4", error: "no such key", cause: "missing" };
    expect(classifyResponse(404, missing)).toEqual({
      kind: "permanent",
      status: 404,
      reason: "the video no longer exists (404): no such key",
    });
  });

  it("the function's 409 superseded is its own outcome (final, not a failure); any other 409 is permanent", () => {
    const body = { status: "superseded", bucket: "in", key: "a.mp4", reason: "a.mp4 changed", outputs: [] };
    expect(classifyResponse(409, body)).toEqual({ kind: "superseded", status: 409, reason: "a.mp4 changed" });
    expect(classifyResponse(409, { error: "conflict" })).toMatchObject({ kind: "permanent", status: 409 });
  });

  it("any other 404 (the gateway's: the function is not deployed) is transient", () => {
    for (const body of ["Not Found", { error: "no route /function/face-recognition" }, undefined]) {
      expect(classifyResponse(404, body)).toMatchObject({ kind: "transient", status: 404 });
    }
    expect(classifyResponse(404, { error: "no such key", cause: "refused" }).kind).toBe("transient");
  });

  it("401 and 400 are permanent for this call, and say what to fix", () => {
    expect(classifyResponse(401, { error: "unauthorized" })).toMatchObject({
      kind: "permanent",
      reason: expect.stringContaining("FUNCTION_TOKEN"),
    });
    expect(classifyResponse(400, { error: '"key" must be a non-empty string' })).toMatchObject({ kind: "permanent" });
  });

  it("429, 500, 502, 503, 504 are transient, with Retry-After when given; only 429 is busy", () => {
    for (const status of [500, 502, 503, 504]) {
      expect(classifyResponse(status, "failed")).toEqual({
        kind: "transient",
        status,
        reason: `HTTP ${status}: failed`,
      });
    }
    expect(classifyResponse(429, "busy")).toEqual({
      kind: "transient",
      status: 429,
      reason: "HTTP 429: busy",
      busy: true,
    });
    expect(classifyResponse(429, "", { "retry-after": "7" })).toMatchObject({ retryAfterMs: 7000, busy: true });
  });

  it("202 is an accepted async call with the gateway's call id", () => {
    expect(classifyResponse(202, "", { "x-call-id": "c1" })).toEqual({ kind: "accepted", status: 202, callId: "c1" });
  });
});

describe("classifyNetworkError", () => {
  it("makes refused connections and timeouts transient", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    expect(classifyNetworkError(refused, 1000)).toEqual({
      kind: "transient",
      reason: "connect ECONNREFUSED 127.0.0.1:9",
    });
    const timeout = Object.assign(new Error("timeout of 1500ms exceeded"), { code: "ECONNABORTED" });
    expect(classifyNetworkError(timeout, 1500)).toEqual({
      kind: "transient",
      reason: "no answer within 1.5 s (timeout)",
    });
  });
});

describe("describeBody", () => {
  it("is one short line", () => {
    expect(describeBody("a\n  b")).toBe("a b");
    expect(describeBody("x".repeat(1000))).toHaveLength(300);
    expect(describeBody(undefined)).toBe("");
    expect(describeBody({ n: 1 })).toBe('{"n":1}');
  });
});
