// A small real HTTP server that plays the face-recognition function at gateway-style paths, for
// fault injection the real function cannot do on demand: it counts calls per key, can answer any
// status per key, be slow, and writes <stem>.csv to the output bucket like the real one.
import { buffer } from "node:stream/consumers";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { S3Client } from "@aws-sdk/client-s3";
import { putText } from "../../../lib/s3.js";
import { elapse } from "../../support/wait.js";

export interface FakeAnswer {
  status: number;
  body?: unknown;
  delayMs?: number;
  headers?: Record<string, string>;
}

export interface FakeCall {
  bucket: string;
  key: string;
  at: number;
  etag?: string;
  authorization?: string;
  jobId?: string;
  /** Set when the caller closed the request before the answer (a call given up). */
  closedEarly?: boolean;
}

export class FakeFunction {
  private server: Server | undefined;
  readonly calls: FakeCall[] = [];
  /** Decides the answer per call; 200 with a result by default. */
  answer: (call: FakeCall) => FakeAnswer = () => ({ status: 200 });
  delayMs = 0;

  constructor(private readonly options: { s3?: S3Client; outputBucket?: string; functionName?: string } = {}) {}

  count(key: string): number {
    return this.calls.filter((call) => call.key === key).length;
  }

  async start(): Promise<string> {
    const name = this.options.functionName ?? "face-recognition";
    this.server = createServer((req, res) => {
      void (async () => {
        const path = (req.url ?? "/").split("?")[0];
        if (req.method !== "POST" || path !== `/function/${name}`) {
          res.writeHead(404).end("no route");
          return;
        }
        const body = JSON.parse((await buffer(req)).toString("utf8") || "{}") as {
          bucket?: string;
          key?: string;
          etag?: string;
        };
        const call: FakeCall = {
          bucket: body.bucket ?? "",
          key: body.key ?? "",
          etag: body.etag,
          at: Date.now(),
          authorization: req.headers.authorization,
          jobId: req.headers["x-job-id"] as string | undefined,
        };
        this.calls.push(call);
        res.once("close", () => {
          if (!res.writableFinished) call.closedEarly = true;
        });
        const answer = this.answer(call);
        const delay = answer.delayMs ?? this.delayMs;
        if (delay > 0) await elapse(delay); // a slow function, on purpose
        let result = answer.body;
        if (answer.status === 200 && result === undefined) {
          const stem = call.key.replace(/\.[^./]*$/, "");
          if (this.options.s3 && this.options.outputBucket) {
            await putText(this.options.s3, this.options.outputBucket, `${stem}.csv`, "name,major,year\n", "text/csv");
          }
          result = { status: "succeeded", bucket: call.bucket, key: call.key, outputs: [`${stem}.csv`], people: [] };
        }
        const text = typeof result === "string" ? result : JSON.stringify(result ?? {});
        res.writeHead(answer.status, { "Content-Type": "application/json", ...answer.headers }).end(text);
      })().catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
