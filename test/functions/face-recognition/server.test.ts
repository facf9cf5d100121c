// The function's HTTP server alone: admission (MAX_INFLIGHT), the token, and async callbacks. The
// handler is played here (what the server does around it is the subject); server.int.test.ts runs
// the real function behind it.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../../lib/log.js";
import { AbandonedError } from "../../../functions/face-recognition/pipeline/errors.js";
import type { FunctionEvent } from "../../../functions/face-recognition/handler.js";
import {
  callbackTarget,
  type Handle,
  type RunningServer,
  type ServerOptions,
  startFunctionServer,
} from "../../../functions/face-recognition/server.js";
import { eventually, waitFor } from "../../support/wait.js";

const token = "server-test-token-4b2d9e";
const auth = { authorization: `Bearer ${token}` };

describe("the function's HTTP server", () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  /** A server around a handler that records its events and answers 200 once `gate` resolves. */
  async function serve(
    options: Partial<ServerOptions>,
    gate: (event: FunctionEvent) => Promise<void> = async () => undefined,
  ) {
    const events: FunctionEvent[] = [];
    const handle: Handle = async (event, context) => {
      events.push(event);
      await gate(event);
      return context.status(200).succeed({ ok: true });
    };
    const log = memoryLogger("face-recognition");
    const running = await startFunctionServer(handle, {
      host: "127.0.0.1",
      port: 0,
      functionName: "face-recognition",
      maxBodyBytes: 1024,
      maxInflight: 8,
      token,
      callbackHosts: [],
      maxCallbacks: 16,
      requestTimeoutMs: 60_000,
      logger: log,
      ...options,
    });
    closers.push(() => {
      // A request a failed test left open must not hold the close.
      running.server.closeAllConnections();
      return running.close();
    });
    let arrived = 0;
    running.server.on("request", () => arrived++);
    return { running, events, log, arrived: () => arrived };
  }

  /** A callback receiver: records each POST and answers it with `answer` (which may hold it). */
  async function receiver(answer: (req: IncomingMessage, res: ServerResponse) => void = (_, res) => res.end()) {
    const hits: string[] = [];
    const server: Server = createServer((req, res) => {
      hits.push(req.url ?? "");
      req.resume();
      answer(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(
      () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return { hits, port: (server.address() as AddressInfo).port };
  }

  const call = (server: RunningServer, path: string, headers: Record<string, string> = auth) =>
    fetch(`${server.url}${path}`, { method: "POST", headers, body: JSON.stringify({ key: "a.mp4" }) });

  it("counts a request from its arrival: while one body is still coming, MAX_INFLIGHT 1 answers 429", async () => {
    const { running, events, arrived } = await serve({ maxInflight: 1 });
    const { port } = new URL(running.url);
    const slow = request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/function/face-recognition",
      headers: auth,
    });
    const slowAnswer = new Promise<number>((resolve) => slow.on("response", (res) => resolve(res.statusCode ?? 0)));
    slow.write('{"key":');
    slow.flushHeaders();
    expect(await eventually(() => arrived() === 1)).toBe(true);
    expect((await call(running, "/function/face-recognition")).status).toBe(429);
    expect(events).toHaveLength(0);
    slow.end('"a.mp4"}');
    expect(await slowAnswer).toBe(200);
    expect((await call(running, "/function/face-recognition")).status).toBe(200);
    expect(events).toHaveLength(2);
  });

  it("checks the bearer token before it accepts an async call (401, not 202) and does no work", async () => {
    const { port, hits } = await receiver();
    const { running, events } = await serve({ callbackHosts: ["127.0.0.1"] });
    const callback = { "x-callback-url": `http://127.0.0.1:${port}/done` };
    expect((await call(running, "/async-function/face-recognition", callback)).status).toBe(401);
    const wrong = { ...callback, authorization: "Bearer wrong-token-123" };
    expect((await call(running, "/async-function/face-recognition", wrong)).status).toBe(401);
    expect((await call(running, "/function/face-recognition", {})).status).toBe(401);
    expect(events).toHaveLength(0);
    expect(hits).toEqual([]);
  });

  it("refuses an async call whose callback host is not configured, before any work", async () => {
    const { port, hits } = await receiver();
    const { running, events } = await serve({ callbackHosts: ["trigger.facerec:8090"] });
    const res = await call(running, "/async-function/face-recognition", {
      ...auth,
      "x-callback-url": `http://127.0.0.1:${port}/done`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/CALLBACK_HOSTS/);
    expect(events).toHaveLength(0);
    expect(hits).toEqual([]);
  });

  it("posts the result to a configured callback host and never follows its redirect", async () => {
    const elsewhere = await receiver();
    const first = await receiver((_, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end();
    });
    const { running, log } = await serve({ callbackHosts: ["127.0.0.1"] });
    const res = await call(running, "/async-function/face-recognition", {
      ...auth,
      "x-callback-url": `http://127.0.0.1:${first.port}/done`,
    });
    expect(res.status).toBe(202);
    const refused = await waitFor(
      () => log.lines.find((line) => line.msg === "callback refused"),
      (line) => line !== undefined,
    );
    expect(refused).toMatchObject({ status: 302, requestId: res.headers.get("x-call-id") });
    expect(first.hits).toEqual(["/done"]);
    expect(elsewhere.hits).toEqual([]);
  });

  it("bounds the callbacks pending: past MAX_CALLBACKS an async call gets 429 until one is delivered", async () => {
    const held: ServerResponse[] = [];
    const { port, hits } = await receiver((_, res) => held.push(res));
    const { running } = await serve({ callbackHosts: [`127.0.0.1:${port}`], maxCallbacks: 1 });
    const asyncCall = () =>
      call(running, "/async-function/face-recognition", { ...auth, "x-callback-url": `http://127.0.0.1:${port}/r` });
    expect((await asyncCall()).status).toBe(202);
    expect(await eventually(() => held.length === 1)).toBe(true);
    expect((await asyncCall()).status).toBe(429);
    held[0]?.end();
    const health = async () => (await (await fetch(`${running.url}/_/health`)).json()) as { callbacks: number };
    expect(await waitFor(health, (h) => h.callbacks === 0)).toMatchObject({ callbacks: 0 });
    expect((await asyncCall()).status).toBe(202);
    expect(await eventually(() => hits.length === 2)).toBe(true);
  });

  it("abandons the work when the caller of a sync call leaves: the handler's signal aborts, its slot is freed", async () => {
    const reasons: unknown[] = [];
    const { running } = await serve({ maxInflight: 1 }, async (event) => {
      reasons.push(await abandoned(event));
    });
    const caller = new AbortController();
    const call = fetch(`${running.url}/function/face-recognition`, {
      method: "POST",
      headers: auth,
      body: "{}",
      signal: caller.signal,
    }).catch((err: unknown) => err);
    const inflight = async () =>
      ((await (await fetch(`${running.url}/_/health`)).json()) as { inflight: number }).inflight;
    expect(await waitFor(inflight, (n) => n === 1)).toBe(1);
    caller.abort();
    await call;
    const [reason] = await waitFor(
      () => reasons,
      (r) => r.length === 1,
    );
    expect(reason).toBeInstanceOf(AbandonedError);
    expect((reason as Error).message).toBe("the caller closed the request");
    expect(await waitFor(inflight, (n) => n === 0)).toBe(0);
  });

  it("abandons it when the request's deadline passes, also for an async call already answered 202", async () => {
    const reasons: unknown[] = [];
    const { running } = await serve({ requestTimeoutMs: 300 }, async (event) => {
      reasons.push(await abandoned(event));
    });
    expect((await call(running, "/async-function/face-recognition")).status).toBe(202);
    const [reason] = await waitFor(
      () => reasons,
      (r) => r.length === 1,
    );
    expect(reason).toBeInstanceOf(AbandonedError);
    expect((reason as Error).message).toBe("the request's deadline of 0.3 s passed");
  });
});

/** Resolves with the reason the handler's signal is aborted with. */
const abandoned = (event: FunctionEvent) =>
  new Promise<unknown>((resolve) => event.signal?.addEventListener("abort", () => resolve(event.signal?.reason)));

describe("callbackTarget", () => {
  it("takes only http(s) URLs without credentials on a configured host (any port) or host:port", () => {
    const hosts = ["trigger.facerec", "127.0.0.1:8090", "[::1]:8090"];
    expect(callbackTarget("http://trigger.facerec:1234/cb", hosts)?.href).toBe("http://trigger.facerec:1234/cb");
    expect(callbackTarget("http://127.0.0.1:8090/cb", hosts)).toBeDefined();
    expect(callbackTarget("http://[::1]:8090/cb", hosts)).toBeDefined();
    expect(callbackTarget("http://127.0.0.1:8091/cb", hosts)).toBeUndefined();
    expect(callbackTarget("http://127.0.0.1/cb", hosts)).toBeUndefined();
    expect(callbackTarget("http://user:pass@trigger.facerec/cb", hosts)).toBeUndefined();
    expect(callbackTarget("file:///etc/passwd", hosts)).toBeUndefined();
    expect(callbackTarget("http://169.254.169.254/latest", hosts)).toBeUndefined();
    expect(callbackTarget("not a url", hosts)).toBeUndefined();
    expect(callbackTarget("https://127.0.0.1:8090/cb", ["127.0.0.1:443"])).toBeUndefined();
  });
});
