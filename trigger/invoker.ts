// Calls the function through the OpenFaaS gateway, and sorts every answer into one of four
// outcomes. The function's contract (functions/face-recognition/server.ts):
//   200 + JSON result   done (it wrote <stem>.csv to the output bucket)
//   422 {"error"}       the video cannot be processed: permanent
//   404 {"cause":"missing"}  the key no longer exists: permanent (the function's own answer)
//   404 otherwise       the gateway has no such function (not deployed yet, or mid-rollout): transient
//   409 {"status":"superseded"}  the object no longer holds the ETag sent: the newer upload's job reports it
//   400 / 401 / 403     a malformed request or a wrong token: permanent for this call (fix, then `retry`)
//   429                 busy (max_inflight): transient, and marked busy — it costs no attempt
//   502 503 504 500     the gateway/function is not reachable or failed: transient
//   network error, timeout                                            : transient
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import axios, {
  type AxiosInstance,
  type AxiosResponseHeaders,
  isAxiosError,
  type RawAxiosResponseHeaders,
} from "axios";
import { parseRetryAfter } from "./backoff.js";
import type { VideoRef } from "./jobs/job.js";

export type InvokeOutcome =
  | { kind: "succeeded"; status: number; result: string }
  /** Async mode: the gateway queued the call; the outcome arrives at the callback URL. */
  | { kind: "accepted"; status: number; callId?: string }
  | { kind: "permanent"; status?: number; reason: string }
  /** The object was replaced before the function read it (409): final, not a failure. */
  | { kind: "superseded"; status: number; reason: string }
  /** busy: the function was at capacity and did not start the work; retried without spending an attempt. */
  | { kind: "transient"; status?: number; reason: string; retryAfterMs?: number; busy?: true };

export interface InvokeRequest {
  video: VideoRef;
  jobId: string;
  /** Async mode only: where the gateway posts the outcome. */
  callbackUrl?: string;
  /** Ends the call (the claim was lost, or released at shutdown); the function then abandons the video. */
  signal?: AbortSignal;
}

export interface Invoker {
  invoke(request: InvokeRequest): Promise<InvokeOutcome>;
}

const TRANSIENT_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * Whether a 404's body is the function's own "no such object" answer (handler.ts: cause
 * "missing"), as opposed to the gateway's 404 for a function it does not know.
 */
function isMissingObject(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { cause?: unknown }).cause === "missing";
}

/** Whether a 409's body is the function's "superseded" answer (handler.ts). */
function isSuperseded(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { status?: unknown }).status === "superseded";
}

/** A short, single-line description of a response body for job records and logs. */
export function describeBody(body: unknown, limit = 300): string {
  if (body === undefined || body === null || body === "") return "";
  if (typeof body === "object" && typeof (body as { error?: unknown }).error === "string") {
    return (body as { error: string }).error.slice(0, limit);
  }
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return text.replace(/\s+/g, " ").trim().slice(0, limit);
}

/** The outcome of an HTTP answer from the gateway (or of a callback's X-Function-Status). Pure. */
export function classifyResponse(
  status: number,
  body: unknown,
  headers: Record<string, string | undefined> = {},
  now = Date.now(),
): InvokeOutcome {
  const detail = describeBody(body);
  const withDetail = (text: string) => (detail ? `${text}: ${detail}` : text);
  if (status >= 200 && status < 300 && status !== 202) {
    return { kind: "succeeded", status, result: typeof body === "string" ? body : JSON.stringify(body ?? null) };
  }
  if (status === 202) return { kind: "accepted", status, callId: headers["x-call-id"] };
  if (status === 422)
    return { kind: "permanent", status, reason: withDetail("the function cannot process this video (422)") };
  if (status === 404 && isMissingObject(body)) {
    return { kind: "permanent", status, reason: withDetail("the video no longer exists (404)") };
  }
  if (status === 409 && isSuperseded(body)) {
    const reason = (body as { reason?: unknown }).reason;
    return { kind: "superseded", status, reason: typeof reason === "string" ? reason : "the object was replaced" };
  }
  if (status === 404) {
    return { kind: "transient", status, reason: withDetail("HTTP 404 from the gateway: is the function deployed?") };
  }
  if (status === 401 || status === 403) {
    return {
      kind: "permanent",
      status,
      reason: withDetail(`the function refused the token (${status}); check FUNCTION_TOKEN`),
    };
  }
  if (TRANSIENT_STATUSES.has(status)) {
    const retryAfterMs = parseRetryAfter(headers["retry-after"], now);
    return {
      kind: "transient",
      status,
      reason: withDetail(`HTTP ${status}`),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(status === 429 ? { busy: true as const } : {}),
    };
  }
  return { kind: "permanent", status, reason: withDetail(`HTTP ${status}`) };
}

/** A request that got no HTTP answer: refused, reset, timed out. Always transient. */
export function classifyNetworkError(error: unknown, timeoutMs: number): InvokeOutcome {
  const code = (error as { code?: string })?.code;
  if (code === "ECONNABORTED" || code === "ETIMEDOUT") {
    return { kind: "transient", reason: `no answer within ${timeoutMs / 1000} s (timeout)` };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { kind: "transient", reason: code && !message.includes(code) ? `${code}: ${message}` : message };
}

function plainHeaders(headers: RawAxiosResponseHeaders | AxiosResponseHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && value !== null) out[name.toLowerCase()] = String(value);
  }
  return out;
}

export interface GatewayInvokerOptions {
  gatewayUrl: string;
  functionName: string;
  mode: "sync" | "async";
  timeoutMs: number;
  token?: string;
}

export class GatewayInvoker implements Invoker {
  private readonly http: AxiosInstance;

  constructor(private readonly options: GatewayInvokerOptions) {
    this.http = axios.create({
      baseURL: options.gatewayUrl,
      timeout: options.timeoutMs,
      // Every status is an answer to classify, not an exception.
      validateStatus: () => true,
      // Keep-alive: one connection per concurrent call instead of one per video.
      httpAgent: new HttpAgent({ keepAlive: true }),
      httpsAgent: new HttpsAgent({ keepAlive: true }),
      maxRedirects: 0,
      headers: {
        "Content-Type": "application/json",
        ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      },
    });
  }

  get path(): string {
    const name = encodeURIComponent(this.options.functionName);
    return this.options.mode === "async" ? `/async-function/${name}` : `/function/${name}`;
  }

  async invoke(request: InvokeRequest): Promise<InvokeOutcome> {
    const headers: Record<string, string> = { "X-Job-Id": request.jobId };
    if (this.options.mode === "async") {
      if (!request.callbackUrl) throw new Error("async invocation needs a callback URL");
      headers["X-Callback-Url"] = request.callbackUrl;
    }
    try {
      const { bucket, key, etag } = request.video;
      // The ETag makes the function read exactly this upload (If-Match), or answer "superseded".
      const body = etag ? { bucket, key, etag } : { bucket, key };
      const response = await this.http.post(this.path, body, { headers, signal: request.signal });
      const outcome = classifyResponse(response.status, response.data, plainHeaders(response.headers));
      // A synchronous call has no callback to wait for: an accepted call is as done as it gets.
      if (outcome.kind === "accepted" && this.options.mode === "sync") {
        return { kind: "succeeded", status: outcome.status, result: describeBody(response.data) };
      }
      return outcome;
    } catch (error) {
      if (isAxiosError(error) && error.response) {
        return classifyResponse(error.response.status, error.response.data, plainHeaders(error.response.headers));
      }
      return classifyNetworkError(error, this.options.timeoutMs);
    }
  }
}
