// The trigger's settings, read once at start into one typed object (see lib/config.ts).
import { hostname } from "node:os";
import { type DynamoSettings, readDynamoSettings, readS3Settings, type S3Settings } from "../lib/cloud.js";
import { type Env, readSettings } from "../lib/config.js";

type InvokeMode = "sync" | "async";

export interface TriggerSettings {
  s3: S3Settings;
  dynamo: DynamoSettings;
  /** The bucket watched for videos (INPUT_BUCKET, shared with the function's settings). */
  bucket: string;
  /** Gateway base URL, without a trailing slash. */
  openfaasUrl: string;
  functionName: string;
  /** Bearer token sent to the function; undefined sends no Authorization header. */
  functionToken?: string;
  invokeMode: InvokeMode;
  /**
   * Base URL of this daemon as the gateway reaches it, for X-Callback-Url in async mode;
   * undefined: http://TRIGGER_HOST:<the port it listens on>.
   */
  callbackUrl?: string;
  pollIntervalMs: number;
  prefix: string;
  suffix: string;
  suffixCaseSensitive: boolean;
  jobsTable: string;
  createTable: boolean;
  host: string;
  port: number;
  concurrency: number;
  invokeTimeoutMs: number;
  /**
   * Async mode: how long an accepted call may wait in the gateway's queue and run before its job
   * is taken for lost and invoked again. The gateway holds the call, not this replica, so nothing
   * renews the claim: it lasts this long from the 202.
   */
  asyncTimeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * How long a claim holds a job without a heartbeat: a running call renews it every third of
   * this, so a claim older than this belonged to a replica that died.
   */
  claimTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Names this replica in job records; unique per process unless set. */
  replicaId: string;
  /** Shared secret a push must carry as `?token=`; required unless the daemon listens on loopback only. */
  notifyToken?: string;
  notify: {
    topic: string;
    /** The URL Ceph pushes to: this daemon's /notifications as Ceph reaches it. */
    endpoint: string;
    persistent: boolean;
    id: string;
  };
}

const seconds = (value: number) => Math.round(value * 1000);

/** Whether only this machine can reach an address the daemon listens on (local mode). */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function readTriggerSettings(env: Env): TriggerSettings {
  return readSettings(env, (read): TriggerSettings => {
    const s3 = readS3Settings(read);
    const host = read.string("TRIGGER_HOST", "127.0.0.1");
    const port = read.int("TRIGGER_PORT", 8090, { min: 0, max: 65535 });
    // 0.0.0.0 is a bind address, not one a client can reach.
    const reachableHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    // An IPv6 address goes in brackets in a URL.
    const selfUrl = `http://${reachableHost.includes(":") ? `[${reachableHost}]` : reachableHost}:${port}`;
    const notifyToken = read.secret("NOTIFY_TOKEN", "notify-token", false);
    // Each push starts a HEAD and a table read: beyond this machine, only a holder of the token may.
    if (notifyToken === undefined && !isLoopback(host)) {
      read.problem(
        "NOTIFY_TOKEN",
        `is required when TRIGGER_HOST (${host}) is reachable from other machines (a non-empty secret file notify-token, or the variable)`,
      );
    }
    return {
      s3,
      dynamo: readDynamoSettings(read),
      bucket: s3.inputBucket,
      openfaasUrl: read.url("OPENFAAS_URL", "http://127.0.0.1:8080"),
      functionName: read.string("FUNCTION_NAME", "face-recognition"),
      functionToken: read.secret("FUNCTION_TOKEN", "function-token", false),
      invokeMode: read.oneOf("INVOKE_MODE", ["sync", "async"] as const, "sync"),
      callbackUrl: read.optionalUrl("CALLBACK_URL"),
      pollIntervalMs: seconds(read.number("POLL_INTERVAL_SECONDS", 10, { min: 0.05 })),
      prefix: read.optional("INPUT_PREFIX") ?? "",
      suffix: read.optional("INPUT_SUFFIX") ?? ".mp4",
      suffixCaseSensitive: read.bool("INPUT_SUFFIX_CASE_SENSITIVE", false),
      jobsTable: read.string("JOBS_TABLE", "facerec-jobs"),
      createTable: read.bool("JOBS_TABLE_CREATE", true),
      host,
      port,
      concurrency: read.int("INVOKE_CONCURRENCY", 4, { min: 1, max: 256 }),
      invokeTimeoutMs: seconds(read.number("INVOKE_TIMEOUT_SECONDS", 300, { min: 0.1 })),
      asyncTimeoutMs: seconds(read.number("ASYNC_TIMEOUT_SECONDS", 3600, { min: 1 })),
      maxAttempts: read.int("MAX_ATTEMPTS", 8, { min: 1, max: 100 }),
      retryBaseMs: seconds(read.number("RETRY_BASE_SECONDS", 2, { min: 0.01 })),
      retryMaxMs: seconds(read.number("RETRY_MAX_SECONDS", 60, { min: 0.01 })),
      claimTimeoutMs: seconds(read.number("CLAIM_TIMEOUT_SECONDS", 30, { min: 0.3 })),
      shutdownTimeoutMs: seconds(read.number("SHUTDOWN_TIMEOUT_SECONDS", 25, { min: 0 })),
      replicaId: read.string("TRIGGER_ID", `${hostname()}:${process.pid}`),
      notifyToken,
      notify: {
        topic: read.string("NOTIFY_TOPIC", "facerec-videos"),
        endpoint: read.url("NOTIFY_ENDPOINT", `${selfUrl}/notifications`),
        // Non-persistent pushes arrive in milliseconds; a lost one is found by the next poll.
        persistent: read.bool("NOTIFY_PERSISTENT", false),
        id: read.string("NOTIFY_ID", "facerec-video-created"),
      },
    };
  });
}
