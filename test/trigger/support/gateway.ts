// A small stand-in for the OpenFaaS gateway in front of a real function server, for fault
// injection: it forwards /function/<name> as the gateway does, queues /async-function/<name> and
// posts the answer to X-Callback-Url with X-Function-Status, and can be taken down (connections
// refused, open ones cut) or made to answer 503 while the function itself keeps running.
import { buffer } from "node:stream/consumers";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export class MiniGateway {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  /** While set, every call is answered with this status without reaching the function. */
  answerWith: number | undefined;
  /** Calls that reached the gateway, by path. */
  readonly requests: { path: string; at: number }[] = [];

  constructor(private readonly upstream: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = this.port): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end("gateway error");
      });
    });
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  /** New connections are refused and open ones are cut, as when the gateway's pod is gone. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Back on the same port. */
  async up(): Promise<void> {
    if (!this.server) await this.start(this.port);
  }

  async close(): Promise<void> {
    await this.down();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    this.requests.push({ path, at: Date.now() });
    const body = await buffer(req);
    if (this.answerWith !== undefined) {
      res.writeHead(this.answerWith, { "Content-Type": "text/plain" }).end("the function is not available");
      return;
    }
    const sync = /^\/function\/[^/]+$/.exec(path);
    const async = /^\/async-function\/([^/]+)$/.exec(path);
    if (sync) {
      const answer = await this.forward(path, req.headers, body);
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return;
    }
    if (async) {
      const callbackUrl = req.headers["x-callback-url"];
      const callId = randomUUID();
      res.writeHead(202, { "X-Call-Id": callId }).end();
      // The queue worker: run the function, then post its answer to the callback URL.
      void this.forward(`/function/${async[1]}`, req.headers, body).then(async (answer) => {
        if (typeof callbackUrl !== "string") return;
        await post(callbackUrl, answer.body, {
          "Content-Type": answer.headers["content-type"] ?? "application/json",
          "X-Function-Status": String(answer.status),
          "X-Call-Id": callId,
        }).catch(() => undefined);
      });
      return;
    }
    res.writeHead(404).end("no such route");
  }

  private forward(
    path: string,
    headers: IncomingMessage["headers"],
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve) => {
      const target = new URL(path, this.upstream);
      const forwarded: Record<string, string | string[] | undefined> = {
        ...headers,
        host: target.host,
        "content-length": String(body.length),
      };
      delete forwarded["x-callback-url"];
      const call = request(target, { method: "POST", headers: forwarded }, (answer) => {
        buffer(answer).then((data) => {
          const out: Record<string, string> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (typeof value === "string" && name !== "connection" && name !== "keep-alive") out[name] = value;
          }
          out["content-length"] = String(data.length);
          resolve({ status: answer.statusCode ?? 502, headers: out, body: data });
        });
      });
      // The function is unreachable: OpenFaaS answers 502.
      call.on("error", (error) =>
        resolve({ status: 502, headers: { "content-type": "text/plain" }, body: Buffer.from(error.message) }),
      );
      call.end(body);
    });
  }
}

function post(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = request(
      url,
      { method: "POST", headers: { ...headers, "Content-Length": String(body.length) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    call.on("error", reject);
    call.end(body);
  });
}
