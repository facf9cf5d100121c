// The HTTP server around the handler: what the of-watchdog (http mode) proxies to in the image,
// and, locally, what answers at the gateway's paths so the trigger and `faas-cli invoke --gateway`
// work unchanged: /function/<name> (sync) and /async-function/<name> (202 at once, the result
// POSTed to X-Callback-Url with X-Function-Status, as the gateway's queue worker does).
// Requests past maxInflight get 429, as the watchdog's max_inflight answers. Async results go only
// to hosts in callbackHosts, redirects not followed, at most maxCallbacks pending at once.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError, type Logger } from "../../lib/log.js";
import { bearerCheck } from "./auth.js";
import type { FunctionContext, FunctionEvent } from "./handler.js";
import { AbandonedError } from "./pipeline/errors.js";

export type Handle = (event: FunctionEvent, context: FunctionContext) => Promise<unknown>;

export interface ServerOptions {
  host: string;
  port: number;
  functionName: string;
  maxBodyBytes: number;
  maxInflight: number;
  /** When set, checked here before a body is read or an async call is accepted. */
  token?: string;
  /** `host` or `host:port` entries, lower case: the only places an async result is POSTed to. */
  callbackHosts: readonly string[];
  maxCallbacks: number;
  /** A request's work is abandoned this long after it arrived (its video's ffmpeg killed, the worker freed). */
  requestTimeoutMs: number;
  logger: Logger;
}

export interface RunningServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startFunctionServer(handle: Handle, options: ServerOptions): Promise<RunningServer> {
  const invokePaths = new Set([
    "/",
    `/function/${options.functionName}`,
    `/function/${options.functionName}.openfaas-fn`,
  ]);
  const asyncPath = `/async-function/${options.functionName}`;
  const authorized = bearerCheck(options.token);
  const inflight = new Slots(options.maxInflight);
  const callbacks = new Slots(options.maxCallbacks);

  /** Runs the handler; never throws: a crash is logged and answered as a 500. */
  async function invoke(
    event: FunctionEvent,
  ): Promise<{ code: number; value: unknown; headers: Record<string, string> }> {
    try {
      const context = new HttpContext();
      const value = await handle(event, context);
      return { code: context.code, value, headers: context.extraHeaders };
    } catch (err) {
      options.logger.error("handler crashed", describeError(err));
      return { code: 500, value: { error: "internal error" }, headers: {} };
    }
  }

  const server = createServer((req, res) => {
    // An aborted upload of the body or a failed callback must never take the process down.
    route(req, res).catch((err: unknown) => {
      options.logger.warn("request failed", describeError(err));
      send(res, 400, { error: "the request could not be read" });
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] as string;
    if (req.method === "GET" && (path === "/_/health" || path === "/healthz" || path === "/_/ready")) {
      return send(res, 200, { status: "ok", inflight: inflight.count, callbacks: callbacks.count });
    }
    const isAsync = path === asyncPath || path === `${asyncPath}.openfaas-fn`;
    if (!invokePaths.has(path) && !isAsync) return send(res, 404, { error: `no route ${path}` });
    const callId = headerValue(req, "x-call-id") ?? randomUUID();
    if (!authorized(headerValue(req, "authorization"))) {
      options.logger.warn("request refused: missing or wrong bearer token", { requestId: callId });
      return send(res, 401, { error: "unauthorized" });
    }
    const callbackUrl = isAsync ? headerValue(req, "x-callback-url") : undefined;
    const callback = callbackUrl === undefined ? undefined : callbackTarget(callbackUrl, options.callbackHosts);
    if (callbackUrl !== undefined && callback === undefined) {
      return send(res, 400, { error: "X-Callback-Url must be an http(s) URL on a host in CALLBACK_HOSTS" });
    }
    // Counted from arrival, before the body is read: a slow body holds its place.
    const releaseWork = inflight.take();
    if (!releaseWork) return send(res, 429, { error: "too many requests in flight, retry later" });
    const releaseCallback = callback ? callbacks.take() : () => undefined;
    // The work stops when no one waits for its answer: the caller left (a sync call's connection
    // closed before the answer), or the deadline passed.
    const abandon = new AbortController();
    const deadline = setTimeout(
      () => abandon.abort(new AbandonedError(`the request's deadline of ${options.requestTimeoutMs / 1000} s passed`)),
      options.requestTimeoutMs,
    );
    res.on("close", () => {
      if (!res.writableEnded) abandon.abort(new AbandonedError("the caller closed the request"));
    });
    try {
      if (!releaseCallback) return send(res, 429, { error: "too many callbacks pending, retry later" });
      const body = await readBody(req, options.maxBodyBytes);
      if (body === undefined) return send(res, 413, { error: `the body is larger than ${options.maxBodyBytes} bytes` });
      const event: FunctionEvent = {
        body,
        headers: { ...req.headers, "x-call-id": callId },
        method: req.method ?? "GET",
        path,
        query: Object.fromEntries(new URL(req.url ?? "/", "http://local").searchParams),
        signal: abandon.signal,
      };
      if (!isAsync) {
        const { code, value, headers } = await invoke(event);
        return send(res, code, value, { "x-call-id": callId, ...headers });
      }
      send(res, 202, "", { "x-call-id": callId });
      const { code, value } = await invoke(event);
      clearTimeout(deadline);
      releaseWork();
      if (callback) await deliver(callback, callId, code, value, options.logger);
    } finally {
      clearTimeout(deadline);
      releaseWork();
      releaseCallback?.();
    }
  }
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${options.host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A counter with a bound; each slot taken is given back once, however often its release is called. */
class Slots {
  count = 0;

  constructor(private readonly max: number) {}

  take(): (() => void) | undefined {
    if (this.count >= this.max) return undefined;
    this.count++;
    let held = true;
    return () => {
      if (held) this.count--;
      held = false;
    };
  }
}

/**
 * The callback URL when it is http(s), without credentials, on a configured host: `host` allows
 * any port of it, `host:port` that port only. Anything else is never contacted.
 */
export function callbackTarget(text: string, hosts: readonly string[]): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username !== "" || url.password !== "") {
    return undefined;
  }
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return hosts.includes(url.hostname) || hosts.includes(`${url.hostname}:${port}`) ? url : undefined;
}

/** The async result to the caller's callback, as the gateway's queue worker sends it. */
async function deliver(url: URL, callId: string, code: number, value: unknown, logger: Logger): Promise<void> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-call-id": callId, "x-function-status": String(code) },
      body: JSON.stringify(value),
      // A redirect could send the result, and this process's requests, to a host not configured.
      redirect: "manual",
      signal: AbortSignal.timeout(30_000),
    });
    await res.body?.cancel();
    if (!res.ok) logger.warn("callback refused", { requestId: callId, status: res.status });
  } catch (err) {
    logger.warn("callback failed", { requestId: callId, ...describeError(err) });
  }
}

class HttpContext implements FunctionContext {
  code = 200;
  extraHeaders: Record<string, string> = {};

  status(code: number): FunctionContext {
    this.code = code;
    return this;
  }

  headers(values: Record<string, string>): FunctionContext {
    Object.assign(this.extraHeaders, values);
    return this;
  }

  succeed(value: unknown): unknown {
    return value;
  }

  fail(value: unknown): unknown {
    this.code = this.code < 400 ? 500 : this.code;
    return { error: value instanceof Error ? value.message : String(value) };
  }
}

function send(res: ServerResponse, code: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  res.writeHead(code, {
    "content-type": typeof value === "string" ? "text/plain" : "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The body as text, or undefined when it is over the limit. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
