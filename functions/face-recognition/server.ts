// The HTTP server around the handler: what the of-watchdog (http mode) proxies to in the image,
// and, locally, what answers at the gateway's paths so the trigger and `faas-cli invoke --gateway`
// work unchanged: /function/<name> (sync) and /async-function/<name> (202 at once, the result
// POSTed to X-Callback-Url with X-Function-Status, as the gateway's queue worker does).
// Requests past maxInflight get 429, as the watchdog's max_inflight answers.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError, type Logger } from "../../lib/log.js";
import type { FunctionContext, FunctionEvent } from "./handler.js";

export type Handle = (event: FunctionEvent, context: FunctionContext) => Promise<unknown>;

export interface ServerOptions {
  host: string;
  port: number;
  functionName: string;
  maxBodyBytes: number;
  maxInflight: number;
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
  let inflight = 0;

  /** Runs the handler; never throws: a crash is logged and answered as a 500. */
  async function invoke(
    event: FunctionEvent,
  ): Promise<{ code: number; value: unknown; headers: Record<string, string> }> {
    inflight++;
    try {
      const context = new HttpContext();
      const value = await handle(event, context);
      return { code: context.code, value, headers: context.extraHeaders };
    } catch (err) {
      options.logger.error("handler crashed", describeError(err));
      return { code: 500, value: { error: "internal error" }, headers: {} };
    } finally {
      inflight--;
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
      return send(res, 200, { status: "ok", inflight });
    }
    const isAsync = path === asyncPath || path === `${asyncPath}.openfaas-fn`;
    if (!invokePaths.has(path) && !isAsync) return send(res, 404, { error: `no route ${path}` });
    if (inflight >= options.maxInflight) return send(res, 429, { error: "too many requests in flight, retry later" });
    const body = await readBody(req, options.maxBodyBytes);
    if (body === undefined) return send(res, 413, { error: `the body is larger than ${options.maxBodyBytes} bytes` });
    const callId = headerValue(req, "x-call-id") ?? randomUUID();
    const event: FunctionEvent = {
      body,
      headers: { ...req.headers, "x-call-id": callId },
      method: req.method ?? "GET",
      path,
      query: Object.fromEntries(new URL(req.url ?? "/", "http://local").searchParams),
    };
    if (!isAsync) {
      const { code, value, headers } = await invoke(event);
      return send(res, code, value, { "x-call-id": callId, ...headers });
    }
    send(res, 202, "", { "x-call-id": callId });
    const { code, value } = await invoke(event);
    const callback = headerValue(req, "x-callback-url");
    if (callback) await deliver(callback, callId, code, value, options.logger);
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

/** The async result to the caller's callback, as the gateway's queue worker sends it. */
async function deliver(url: string, callId: string, code: number, value: unknown, logger: Logger): Promise<void> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-call-id": callId, "x-function-status": String(code) },
      body: JSON.stringify(value),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) logger.warn("callback refused", { callId, status: res.status });
  } catch (err) {
    logger.warn("callback failed", { callId, ...describeError(err) });
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
