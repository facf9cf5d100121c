// The daemon's HTTP endpoints:
//   GET  /healthz         200 while running, 503 while shutting down
//   GET  /metrics         Prometheus text
//   POST /notifications   Ceph bucket notifications (also POST /): answered 200 at once, handled after
//   POST /callback        OpenFaaS async results (X-Function-Status), for INVOKE_MODE=async
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError, type Logger } from "../lib/log.js";
import { NotificationFormatError, type ObjectEvent, parseNotification } from "./events.js";

const MAX_BODY_BYTES = 1024 * 1024;
/** Ceph pushes one record per notification; a request with many more is not Ceph's. */
export const MAX_RECORDS_PER_NOTIFICATION = 100;

export interface CallbackRequest {
  query: URLSearchParams;
  /** X-Function-Status; undefined when the header is missing or not a number. */
  functionStatus?: number;
  callId?: string;
  body: unknown;
}

export interface EndpointHandlers {
  healthy: () => boolean;
  metrics: () => Promise<string>;
  /** Called after the notification was answered; must not throw. */
  notified: (events: ObjectEvent[]) => void;
  callback: (request: CallbackRequest) => Promise<{ status: number; message: string }>;
  /** When set, a notification must carry ?token=<this>. */
  notifyToken?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseJson(buffer: Buffer): unknown {
  if (buffer.length === 0) return undefined;
  try {
    return JSON.parse(buffer.toString("utf8"));
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

function sameSecret(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, body: unknown, contentType = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export function createEndpoints(handlers: EndpointHandlers, logger: Logger): Server {
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://trigger.local");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (req.method === "GET" && path === "/healthz") {
      const ok = handlers.healthy();
      return send(res, ok ? 200 : 503, { status: ok ? "ok" : "stopping" });
    }
    if (req.method === "GET" && path === "/metrics") {
      return send(res, 200, await handlers.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    }
    if (req.method === "POST" && (path === "/notifications" || path === "/")) {
      if (handlers.notifyToken !== undefined && !sameSecret(url.searchParams.get("token"), handlers.notifyToken)) {
        throw new HttpError(401, "missing or wrong token");
      }
      const parsed = parseNotification(parseJson(await readBody(req)));
      if (parsed.created.length + parsed.skipped.length > MAX_RECORDS_PER_NOTIFICATION) {
        throw new HttpError(413, `at most ${MAX_RECORDS_PER_NOTIFICATION} records per notification`);
      }
      // Ceph's non-persistent push waits for this answer inside the uploader's PUT: answer first.
      send(res, 200, { received: parsed.created.length });
      setImmediate(() => handlers.notified(parsed.created));
      return;
    }
    if (req.method === "POST" && path === "/callback") {
      const raw = await readBody(req);
      // The function's answer: JSON normally, plain text when the gateway or watchdog wrote it.
      let body: unknown = raw.toString("utf8");
      try {
        body = raw.length > 0 ? JSON.parse(body as string) : undefined;
      } catch {}
      const statusHeader = Number(req.headers["x-function-status"]);
      const outcome = await handlers.callback({
        query: url.searchParams,
        functionStatus: Number.isInteger(statusHeader) ? statusHeader : undefined,
        callId: typeof req.headers["x-call-id"] === "string" ? req.headers["x-call-id"] : undefined,
        body,
      });
      return send(res, outcome.status, { message: outcome.message });
    }
    throw new HttpError(404, "not found");
  };

  return createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : error instanceof NotificationFormatError ? 400 : 500;
      // The path alone: the query carries the notify token or a claim token, URL-encoded where
      // the log's redaction cannot recognise it.
      const path = new URL(req.url ?? "/", "http://trigger.local").pathname;
      if (status === 500) logger.error("request failed", { path, ...describeError(error) });
      else logger.debug("request refused", { path, status });
      if (!res.headersSent) send(res, status, { error: status === 500 ? "internal error" : (error as Error).message });
    });
  });
}

export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
