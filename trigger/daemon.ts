// The daemon: wires the poller, the push endpoint, the work queue, the job runner and the HTTP
// endpoints together, and shuts them down in order.
import type { S3Client } from "@aws-sdk/client-s3";
import { createDynamoClient } from "../lib/dynamo.js";
import { createLogger, describeError, type Logger } from "../lib/log.js";
import { createS3Client, headObject, isNotFound } from "../lib/s3.js";
import type { TriggerSettings } from "./config.js";
import type { ObjectEvent } from "./events.js";
import { classifyResponse, GatewayInvoker, type Invoker } from "./invoker.js";
import { DynamoJobStore, videoKeyOf } from "./jobs/dynamo-store.js";
import { dueIn, type Job, jobIdOf, uploadTime, type VideoRef } from "./jobs/job.js";
import { LeaseObserver } from "./jobs/lease.js";
import type { JobStore } from "./jobs/store.js";
import { createKeyFilter } from "./keys.js";
import { S3Lister } from "./lister.js";
import { createTriggerMetrics, type TriggerMetrics } from "./metrics.js";
import { Poller } from "./poller.js";
import { WorkQueue } from "./queue.js";
import { JobRunner } from "./runner.js";
import { type CallbackRequest, close, createEndpoints, listen } from "./server.js";

export interface DaemonDeps {
  logger?: Logger;
  s3?: S3Client;
  store?: JobStore;
  invoker?: Invoker;
  /** This replica's wall clock (retry times, records); leases never compare it with another's. */
  now?: () => number;
}

export interface Daemon {
  port: number;
  url: string;
  metrics: TriggerMetrics;
  /**
   * Stops claiming, lets running calls finish for up to SHUTDOWN_TIMEOUT_SECONDS, then gives up
   * the rest and releases their jobs for another replica at once.
   */
  stop(): Promise<{ drained: boolean }>;
}

/** recheck: a job another replica runs, looked at again when its lease may have lapsed. */
type Source = "poll" | "push" | "retry" | "recheck";

/** A bind address such as 0.0.0.0 is not one a client can connect to. */
const reachable = (host: string) => (host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A URL fit for a log: any user:password in it removed. */
function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  parsed.username = "";
  parsed.password = "";
  return parsed.toString().replace(/\/+$/, "");
}

/** HEADs of pushed objects at once, and pushes that may wait for one. */
export const CONFIRM_CONCURRENCY = 8;
const CONFIRM_BACKLOG = 1000;
/** After the shutdown timeout: how long the given-up calls may take to release their jobs. */
const RELEASE_WAIT_MS = 5000;

export async function startDaemon(settings: TriggerSettings, deps: DaemonDeps = {}): Promise<Daemon> {
  const logger = deps.logger ?? createLogger("trigger", { base: { replica: settings.replicaId } });
  const s3 = deps.s3 ?? createS3Client(settings.s3);
  const store = deps.store ?? new DynamoJobStore(createDynamoClient(settings.dynamo), settings.jobsTable);
  if (settings.createTable) await store.ensureTable();
  const invoker =
    deps.invoker ??
    new GatewayInvoker({
      gatewayUrl: settings.openfaasUrl,
      functionName: settings.functionName,
      mode: settings.invokeMode,
      timeoutMs: settings.invokeTimeoutMs,
      token: settings.functionToken,
    });

  const now = deps.now ?? Date.now;
  const leases = new LeaseObserver();
  let stopping = false;
  let callbackBase = settings.callbackUrl;
  const queue: WorkQueue<VideoRef> = new WorkQueue(
    (video) => runner.runSafely(video),
    settings.concurrency,
    (error, id) => logger.error("queue entry failed", { jobId: id, ...describeError(error) }),
  );
  const metrics = createTriggerMetrics(() => queue.stats());
  const enqueue = (video: VideoRef, delayMs: number, source: Source): boolean => {
    // A retry is scheduled from inside the job's own run, which add would refuse as a duplicate.
    const added =
      source === "retry" ? queue.requeue(jobIdOf(video), video, delayMs) : queue.add(jobIdOf(video), video, delayMs);
    if (added && (source === "poll" || source === "push")) {
      metrics.seen.inc({ source });
      logger.info("video queued", {
        jobId: jobIdOf(video),
        videoKey: video.key,
        etag: video.etag,
        source,
        delayMs: Math.round(delayMs),
      });
    }
    return added;
  };
  // Poll and push judge a found upload alike: its job's due time, and a running one is a recheck.
  const dueFor = (job: Job | undefined) => dueIn(job, now(), (running) => leases.lapsesIn(running));
  const found = (video: VideoRef, delayMs: number, job: Job | undefined, source: "poll" | "push") =>
    enqueue(video, delayMs, job?.status === "running" ? "recheck" : source);
  const runner = new JobRunner(
    { store, invoker, metrics, logger, leases, now, schedule: (video, delayMs) => enqueue(video, delayMs, "retry") },
    {
      owner: settings.replicaId,
      leaseMs: settings.claimTimeoutMs,
      // The gateway's queue holds an accepted call, whichever replica sent it: its claim lasts
      // through a backlog in the queue and the run, rather than one call's timeout.
      acceptedLeaseMs: settings.asyncTimeoutMs,
      maxAttempts: settings.maxAttempts,
      backoff: { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs },
      callbackUrlFor:
        settings.invokeMode === "async"
          ? (claim) =>
              `${callbackBase}/callback?${new URLSearchParams({
                bucket: claim.job.bucket,
                key: claim.job.key,
                etag: claim.job.etag,
                modified: claim.job.modified,
                claim: claim.token,
              })}`
          : undefined,
    },
  );

  const filter = createKeyFilter({
    prefix: settings.prefix,
    suffix: settings.suffix,
    suffixCaseSensitive: settings.suffixCaseSensitive,
  });
  const poller = new Poller(
    {
      lister: new S3Lister(s3, settings.bucket, settings.prefix, filter),
      store,
      enqueue: (video, delayMs, job) => found(video, delayMs, job, "poll"),
      dueIn: dueFor,
      metrics,
      logger,
    },
    settings.pollIntervalMs,
  );

  /**
   * A push is a hint: the object's current ETag comes from a HEAD, so a stale or forged record
   * cannot create a job for an upload that does not exist.
   */
  const confirm = async (event: ObjectEvent): Promise<VideoRef | undefined> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const head = await headObject(s3, event.bucket, event.key);
        return { bucket: event.bucket, key: event.key, etag: head.etag, modified: uploadTime(head.lastModified) };
      } catch (error) {
        if (!isNotFound(error)) throw error;
        if (attempt >= 3) return undefined; // deleted since: nothing to do
        await sleep(100 * attempt);
      }
    }
  };

  // Pushed objects are confirmed a few at a time, each key once while it waits; past the backlog
  // limit a push is dropped (counted): the next poll finds the object.
  const confirming: WorkQueue<ObjectEvent> = new WorkQueue(
    (event) => confirmAndQueue(event),
    CONFIRM_CONCURRENCY,
    (error, id) => logger.error("notified object could not be checked", { videoKey: id, ...describeError(error) }),
  );
  const confirmAndQueue = async (event: ObjectEvent) => {
    const video = await confirm(event);
    if (!video) return logger.info("notified object no longer exists", { videoKey: event.key, bucket: event.bucket });
    // As for a poll: only a job that needs work goes on the queue (Ceph may repeat a push).
    const job = await store.get(video);
    const delayMs = dueFor(job);
    if (delayMs !== undefined) found(video, delayMs, job, "push");
  };

  const notified = (events: ObjectEvent[]) => {
    for (const event of events) {
      const log = logger.child({ videoKey: event.key, bucket: event.bucket });
      if (stopping) return;
      if (event.bucket !== settings.bucket) {
        metrics.notifications.inc({ result: "other_bucket" });
        log.warn("notification for a bucket this trigger does not watch");
        continue;
      }
      if (!filter(event.key)) {
        metrics.notifications.inc({ result: "filtered" });
        log.debug("notification for a key that is not a video");
        continue;
      }
      if (confirming.stats().depth >= CONFIRM_BACKLOG) {
        metrics.notifications.inc({ result: "dropped" });
        log.warn("too many notifications waiting: left to the next poll");
        continue;
      }
      metrics.notifications.inc({ result: "accepted" });
      confirming.requeue(videoKeyOf(event), event);
    }
  };

  const callback = async (request: CallbackRequest) => {
    const q = request.query;
    const bucket = q.get("bucket");
    const key = q.get("key");
    const token = q.get("claim");
    if (!bucket || !key || !token || request.functionStatus === undefined) {
      return { status: 400, message: "expected bucket, key, etag and claim in the URL and X-Function-Status" };
    }
    const video = { bucket, key, etag: q.get("etag") ?? "", modified: q.get("modified") ?? "" };
    const job = await store.get(video);
    if (job?.status !== "running" || job.claimToken !== token) {
      logger.warn("stale callback ignored", { jobId: jobIdOf(video), videoKey: key, callId: request.callId });
      return { status: 409, message: "this claim is no longer current" };
    }
    let outcome = classifyResponse(request.functionStatus, request.body);
    if (outcome.kind === "accepted") outcome = { kind: "succeeded", status: outcome.status, result: "" };
    await runner.record({ job, token }, outcome, { callId: request.callId });
    return { status: 200, message: "recorded" };
  };

  const server = createEndpoints(
    {
      healthy: () => !stopping,
      metrics: () => metrics.render(),
      notified,
      callback,
      notifyToken: settings.notifyToken,
    },
    logger,
  );
  const port = await listen(server, settings.host, settings.port);
  const url = `http://${reachable(settings.host)}:${port}`;
  callbackBase = settings.callbackUrl ?? url;
  poller.start();
  logger.info("trigger started", {
    port,
    bucket: settings.bucket,
    prefix: settings.prefix,
    suffix: settings.suffix,
    function: `${withoutCredentials(settings.openfaasUrl)}/function/${settings.functionName}`,
    mode: settings.invokeMode,
    concurrency: settings.concurrency,
    pollIntervalMs: settings.pollIntervalMs,
    table: settings.jobsTable,
  });

  return {
    port,
    url,
    metrics,
    async stop() {
      if (stopping) return { drained: true };
      stopping = true;
      logger.info("stopping: no new work; waiting for running invocations", { active: queue.stats().active });
      await poller.stop();
      confirming.stop();
      queue.stop();
      const drained = await queue.whenIdle(settings.shutdownTimeoutMs);
      if (!drained) {
        const given = runner.releaseAll();
        logger.warn("calls still running at the shutdown timeout: given up, their jobs released", { calls: given });
        await queue.whenIdle(RELEASE_WAIT_MS);
      }
      await close(server);
      logger.info("stopped", { drained });
      return { drained };
    },
  };
}
