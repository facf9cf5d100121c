// One job's steps: claim it, invoke the function, record the outcome (or schedule the retry).
// Everything it needs comes in through narrow interfaces, so it runs the same in a test.
import { describeError, type Logger } from "../lib/log.js";
import { type BackoffOptions, retryDelay } from "./backoff.js";
import type { InvokeOutcome, Invoker } from "./invoker.js";
import { type Claim, jobIdOf, type VideoRef } from "./jobs/job.js";
import type { JobStore } from "./jobs/store.js";
import type { TriggerMetrics } from "./metrics.js";

export interface RunnerOptions {
  owner: string;
  /** How long a claim holds a job without renewal; renewed every third of it during a call. */
  leaseMs: number;
  /** Async mode: how long an accepted call may take until its callback (queue + run). */
  acceptedLeaseMs?: number;
  maxAttempts: number;
  backoff: BackoffOptions;
  /** Async mode: the callback URL for one claim, or undefined in sync mode. */
  callbackUrlFor?: (claim: Claim) => string;
}

export interface RunnerDeps {
  store: JobStore;
  invoker: Invoker;
  metrics: TriggerMetrics;
  logger: Logger;
  /** Puts the video back on this replica's queue after delayMs (a retry, or a future due time). */
  schedule: (video: VideoRef, delayMs: number) => void;
  now?: () => number;
}

export class JobRunner {
  private readonly now: () => number;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly options: RunnerOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  private log(video: VideoRef): Logger {
    return this.deps.logger.child({
      jobId: jobIdOf(video),
      videoKey: video.key,
      bucket: video.bucket,
      etag: video.etag,
    });
  }

  /** Runs one attempt of the job, if this replica gets the claim. Never throws for a job's own failure. */
  async run(video: VideoRef): Promise<void> {
    const log = this.log(video);
    const { store, metrics } = this.deps;
    const taken = await store.claim(video, this.options.owner, this.now(), this.options.leaseMs);
    if (!taken.claimed) {
      const job = taken.job;
      if (job?.status === "pending" && job.nextAttemptAt !== undefined) {
        this.deps.schedule(video, Math.max(0, job.nextAttemptAt - this.now()));
      }
      log.debug("not claimed", { status: job?.status, owner: job?.owner });
      return;
    }
    const claim = taken.claim;
    const attempt = claim.job.attempts;
    if (attempt > this.options.maxAttempts) {
      // Earlier attempts were cut off (crashed replicas) and used up the budget.
      const reason = `gave up after ${attempt - 1} attempts${claim.job.lastError ? `; last error: ${claim.job.lastError}` : " (interrupted)"}`;
      await store.fail(claim, { now: this.now(), reason });
      metrics.failed.inc({ kind: "exhausted" });
      log.error("video failed", { attempt, reason });
      return;
    }
    metrics.started.inc();
    log.info("invoking function", { attempt });
    const started = performance.now();
    const heartbeat = this.heartbeat(claim, log);
    let outcome: InvokeOutcome;
    try {
      outcome = await this.deps.invoker.invoke({
        video,
        jobId: claim.job.jobId,
        callbackUrl: this.options.callbackUrlFor?.(claim),
      });
    } finally {
      clearInterval(heartbeat);
    }
    const seconds = (performance.now() - started) / 1000;
    metrics.latency.observe(seconds, { outcome: outcome.kind });
    await this.record(claim, outcome, { durationMs: Math.round(seconds * 1000) });
  }

  /**
   * Renews the claim while the call runs, so a long video never looks abandoned while a replica
   * that dies stops renewing and its claim expires within one lease.
   */
  private heartbeat(claim: Claim, log: Logger): NodeJS.Timeout {
    const timer = setInterval(
      () => {
        const now = this.now();
        this.deps.store.renew(claim, { now, claimExpiresAt: now + this.options.leaseMs }).then(
          (held) => {
            if (!held) log.warn("claim lost during the call: another replica may invoke this video too");
          },
          (error: unknown) => log.warn("claim renewal failed", describeError(error)),
        );
      },
      Math.max(100, Math.floor(this.options.leaseMs / 3)),
    );
    timer.unref();
    return timer;
  }

  /** Records an outcome for a held claim: from a synchronous answer, or from an async callback. */
  async record(claim: Claim, outcome: InvokeOutcome, fields: Record<string, unknown> = {}): Promise<void> {
    const { store, metrics } = this.deps;
    const video: VideoRef = claim.job;
    const log = this.log(video).child({ attempt: claim.job.attempts, ...fields });
    const now = this.now();
    let held: boolean;
    switch (outcome.kind) {
      case "succeeded":
        held = await store.succeed(claim, { now, statusCode: outcome.status, result: outcome.result });
        if (held) metrics.succeeded.inc();
        log.info("video succeeded", { status: outcome.status });
        break;
      case "accepted":
        held = await store.accepted(claim, {
          now,
          statusCode: outcome.status,
          callId: outcome.callId,
          claimExpiresAt: now + (this.options.acceptedLeaseMs ?? this.options.leaseMs),
        });
        log.info("invocation queued by the gateway", { callId: outcome.callId });
        break;
      case "permanent":
        held = await store.fail(claim, { now, statusCode: outcome.status, reason: outcome.reason });
        if (held) metrics.failed.inc({ kind: "permanent" });
        log.error("video failed", { status: outcome.status, reason: outcome.reason });
        break;
      case "transient": {
        if (outcome.busy) {
          const delayMs = retryDelay((claim.job.busyAnswers ?? 0) + 1, this.options.backoff, outcome.retryAfterMs);
          held = await store.busy(claim, {
            now,
            statusCode: outcome.status,
            reason: outcome.reason,
            nextAttemptAt: now + delayMs,
          });
          if (held) {
            metrics.busy.inc();
            this.deps.schedule(video, delayMs);
          }
          log.info("function busy, will retry without spending an attempt", { status: outcome.status, delayMs });
          break;
        }
        const attempt = claim.job.attempts;
        if (attempt >= this.options.maxAttempts) {
          const reason = `gave up after ${attempt} attempts; last error: ${outcome.reason}`;
          held = await store.fail(claim, { now, statusCode: outcome.status, reason });
          if (held) metrics.failed.inc({ kind: "exhausted" });
          log.error("video failed", { status: outcome.status, reason });
          break;
        }
        const delayMs = retryDelay(attempt, this.options.backoff, outcome.retryAfterMs);
        held = await store.retryLater(claim, {
          now,
          statusCode: outcome.status,
          reason: outcome.reason,
          nextAttemptAt: now + delayMs,
        });
        if (held) {
          metrics.retried.inc();
          this.deps.schedule(video, delayMs);
        }
        log.warn("invocation failed, will retry", { status: outcome.status, reason: outcome.reason, delayMs });
        break;
      }
    }
    if (!held) {
      // Our claim expired and another replica took the job: its outcome is the one that counts.
      log.warn("claim lost before the outcome was recorded", { outcome: outcome.kind });
    }
  }

  /** Runs a job and logs instead of throwing (a store outage): its claim expires and it is retried. */
  async runSafely(video: VideoRef): Promise<void> {
    try {
      await this.run(video);
    } catch (error) {
      this.log(video).error("job step failed; the poll will retry it", describeError(error));
    }
  }
}
