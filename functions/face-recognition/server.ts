// The HTTP server around the handler: what the of-watchdog (http mode) proxies to in the image,
// and, locally, what answers at gateway-style paths so the trigger and `faas-cli invoke --gateway`
// work unchanged. One video at a time per process is not enforced: requests past maxInflight get
// 429, as the watchdog's max_inflight would answer.
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
  let inflight = 0;

  const server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    if (req.method === "GET" && (path === "/_/health" || path === "/healthz" || path === "/_/ready")) {
      return send(res, 200, { status: "ok", inflight });
    }
    if (!invokePaths.has(path)) return send(res, 404, { error: `no route ${path}` });
    if (inflight >= options.maxInflight) return send(res, 429, { error: "too many requests in flight, retry later" });
    inflight++;
    try {
      const body = await readBody(req, options.maxBodyBytes);
      if (body === undefined) return send(res, 413, { error: `the body is larger than ${options.maxBodyBytes} bytes` });
      const event: FunctionEvent = {
        body,
        headers: req.headers,
        method: req.method ?? "GET",
        path,
        query: Object.fromEntries(new URL(req.url ?? "/", "http://local").searchParams),
      };
      const context = new HttpContext();
      const value = await handle(event, context);
      send(res, context.code, value, context.extraHeaders);
    } catch (err) {
      options.logger.error("handler crashed", describeError(err));
      send(res, 500, { error: "internal error" });
    } finally {
      inflight--;
    }
  });
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
