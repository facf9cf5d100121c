// One job's steps: claim it, invoke the function while keeping the lease, record the outcome (or
// schedule the retry). Everything it needs comes in through narrow interfaces.
import { describeError, type Logger } from "../lib/log.js";
import { type BackoffOptions, retryDelay } from "./backoff.js";
import type { InvokeOutcome, Invoker } from "./invoker.js";
import { type Claim, type Job, jobIdOf, refOf, type VideoRef } from "./jobs/job.js";
import type { LeaseObserver } from "./jobs/lease.js";
import type { Final, JobStore } from "./jobs/store.js";
import type { TriggerMetrics } from "./metrics.js";

export interface RunnerOptions {
  owner: string;
  /** How long a lease holds a job without renewal; renewed every third of it during a call. */
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
  /** Other replicas' leases as this one has seen them. */
  leases: LeaseObserver;
  /** Puts the video back on this replica's queue after delayMs (a retry, or a recheck). */
  schedule: (video: VideoRef, delayMs: number) => void;
  /** Wall clock, for retry times and records only: never compared with another replica's. */
  now?: () => number;
  /** Monotonic clock, for this replica's own lease. */
  clock?: () => number;
}

/** Why a running call was given up: its claim was taken, its lease lapsed, or the replica stops. */
type GiveUp = "lost" | "lapsed" | "shutdown";

export class JobRunner {
  private readonly now: () => number;
  private readonly clock: () => number;
  /** Calls in flight, to give up at shutdown. */
  private readonly calls = new Map<string, AbortController>();

  constructor(
    private readonly deps: RunnerDeps,
    private readonly options: RunnerOptions,
  ) {
    this.now = deps.now ?? Date.now;
    this.clock = deps.clock ?? (() => performance.now());
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
    const { store, metrics, leases } = this.deps;
    const jobId = jobIdOf(video);
    const takeover = leases.lapsed(jobId);
    const sentAt = this.clock();
    const taken = await store.claim(video, this.options.owner, this.now(), this.options.leaseMs, takeover);
    if (!taken.claimed) return this.notClaimed(video, taken.job, log);
    leases.forget(jobId);
    const claim = taken.claim;
    const attempt = claim.job.attempts;
    if (takeover) {
      metrics.takenOver.inc();
      log.warn("took over a lapsed claim", { attempt });
    }
    if (attempt > this.options.maxAttempts) {
      // Earlier attempts were cut off (crashed replicas) and used up the budget.
      const reason = `gave up after ${attempt - 1} attempts${claim.job.lastError ? `; last error: ${claim.job.lastError}` : " (interrupted)"}`;
      await store.finish(claim, { now: this.now(), status: "failed", reason });
      metrics.failed.inc({ kind: "exhausted" });
      log.error("video failed", { attempt, reason });
      return;
    }
    metrics.started.inc();
    log.info("invoking function", { attempt });
    const started = performance.now();
    const call = new AbortController();
    this.calls.set(jobId, call);
    const lease = this.keepLease(claim, call, sentAt, log);
    let outcome: InvokeOutcome;
    try {
      outcome = await this.deps.invoker.invoke({
        video: refOf(claim.job),
        jobId,
        callbackUrl: this.options.callbackUrlFor?.(claim),
        signal: call.signal,
      });
    } finally {
      lease.stop();
      this.calls.delete(jobId);
    }
    if (call.signal.aborted) return this.gaveUp(claim, call.signal.reason as GiveUp, log);
    const seconds = (performance.now() - started) / 1000;
    metrics.latency.observe({ outcome: outcome.kind }, seconds);
    await this.record(claim, outcome, { durationMs: Math.round(seconds * 1000) });
  }

  /** Someone else holds the job, or it is not due: look again when it may need this replica. */
  private notClaimed(video: VideoRef, job: Job | undefined, log: Logger): void {
    if (job?.status === "pending" && job.nextAttemptAt !== undefined) {
      this.deps.schedule(video, Math.max(0, job.nextAttemptAt - this.now()));
    } else if (job?.status === "running") {
      this.deps.schedule(video, this.deps.leases.lapsesIn(job));
    }
    log.debug("not claimed", { status: job?.status, owner: job?.owner });
  }

  /**
   * Renews the lease every third of it while the call runs. The call is given up when a renewal
   * finds the claim taken, or when no renewal has succeeded for a whole lease (measured from the
   * send of the last one that did): by then another replica may take the job over.
   */
  private keepLease(claim: Claim, call: AbortController, sentAt: number, log: Logger): { stop(): void } {
    const { leaseMs } = this.options;
    const giveUp = (why: GiveUp) => {
      if (!call.signal.aborted) call.abort(why);
    };
    const lapsesAfter = (sent: number) =>
      setTimeout(() => giveUp("lapsed"), Math.max(0, sent + leaseMs - this.clock()));
    let lapse = lapsesAfter(sentAt);
    const renewal = setInterval(
      () => {
        const sent = this.clock();
        this.deps.store.renew(claim, { now: this.now() }).then(
          (held) => {
            if (!held) return giveUp("lost");
            clearTimeout(lapse);
            lapse = lapsesAfter(sent);
          },
          (error: unknown) => log.warn("lease renewal failed", describeError(error)),
        );
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    return {
      stop() {
        clearInterval(renewal);
        clearTimeout(lapse);
      },
    };
  }

  private async gaveUp(claim: Claim, why: GiveUp, log: Logger): Promise<void> {
    this.deps.metrics.givenUp.inc({ reason: why });
    if (why === "shutdown") {
      // Given back at once, so another replica need not wait for the lease to lapse.
      const released = await this.deps.store.release(claim, { now: this.now() }).catch(() => false);
      log.info("stopping: call given up and the job released", { released });
      return;
    }
    // Another replica holds it now, or may: its outcome is the one that counts.
    log.warn(
      why === "lost"
        ? "claim taken by another replica during the call: call given up"
        : "lease not renewed for a whole lease: call given up, outcome not recorded",
    );
  }

  /** Gives up every call in flight (shutdown): each releases its job. */
  releaseAll(): number {
    for (const call of this.calls.values()) call.abort("shutdown" satisfies GiveUp);
    return this.calls.size;
  }

  /** Records an outcome for a held claim: from a synchronous answer, or from an async callback. */
  async record(claim: Claim, outcome: InvokeOutcome, fields: Record<string, unknown> = {}): Promise<void> {
    const { store } = this.deps;
    const log = this.log(claim.job).child({ attempt: claim.job.attempts, ...fields });
    const now = this.now();
    let held: boolean;
    switch (outcome.kind) {
      case "succeeded":
      case "superseded":
      case "permanent":
        held = await this.finish(claim, outcome, now, log);
        break;
      case "accepted":
        held = await store.accepted(claim, {
          now,
          statusCode: outcome.status,
          callId: outcome.callId,
          leaseMs: this.options.acceptedLeaseMs ?? this.options.leaseMs,
        });
        log.info("invocation queued by the gateway", { callId: outcome.callId });
        break;
      case "transient":
        held = await this.later(claim, outcome, now, log);
        break;
    }
    if (!held) {
      // Our lease lapsed and another replica took the job: its outcome is the one that counts.
      log.warn("claim lost before the outcome was recorded", { outcome: outcome.kind });
    }
  }

  /** A final answer: succeeded, superseded (a newer upload has its own job), or failed for good. */
  private async finish(
    claim: Claim,
    outcome: Extract<InvokeOutcome, { kind: "succeeded" | "superseded" | "permanent" }>,
    now: number,
    log: Logger,
  ): Promise<boolean> {
    const { store, metrics } = this.deps;
    const final: Final =
      outcome.kind === "succeeded"
        ? { status: "succeeded", result: outcome.result }
        : outcome.kind === "superseded"
          ? { status: "superseded", reason: outcome.reason }
          : { status: "failed", reason: outcome.reason };
    const held = await store.finish(claim, { now, statusCode: outcome.status, ...final });
    const fields = { status: outcome.status, ...("reason" in final ? { reason: final.reason } : {}) };
    if (final.status === "succeeded") {
      if (held) metrics.succeeded.inc();
      log.info("video succeeded", fields);
    } else if (final.status === "superseded") {
      if (held) metrics.superseded.inc();
      log.info("video superseded by a newer upload", fields);
    } else {
      if (held) metrics.failed.inc({ kind: "permanent" });
      log.error("video failed", fields);
    }
    return held;
  }

  /** A transient answer: retried after a backoff, or failed once the attempts ran out (busy never does). */
  private async later(
    claim: Claim,
    outcome: Extract<InvokeOutcome, { kind: "transient" }>,
    now: number,
    log: Logger,
  ): Promise<boolean> {
    const { store, metrics } = this.deps;
    const busy = outcome.busy === true;
    const attempt = claim.job.attempts;
    if (!busy && attempt >= this.options.maxAttempts) {
      const reason = `gave up after ${attempt} attempts; last error: ${outcome.reason}`;
      const held = await store.finish(claim, { now, statusCode: outcome.status, status: "failed", reason });
      if (held) metrics.failed.inc({ kind: "exhausted" });
      log.error("video failed", { status: outcome.status, reason });
      return held;
    }
    // Busy answers back off by their own count, so they neither spend nor lengthen the attempts' budget.
    const n = busy ? (claim.job.busyAnswers ?? 0) + 1 : attempt;
    const delayMs = retryDelay(n, this.options.backoff, outcome.retryAfterMs);
    const { status: statusCode, reason } = outcome;
    const held = await store.later(claim, { now, statusCode, reason, nextAttemptAt: now + delayMs, busy });
    if (held) {
      (busy ? metrics.busy : metrics.retried).inc();
      this.deps.schedule(refOf(claim.job), delayMs);
    }
    if (busy) log.info("function busy, will retry without spending an attempt", { status: statusCode, delayMs });
    else log.warn("invocation failed, will retry", { status: statusCode, reason, delayMs });
    return held;
  }

  /** Runs a job and logs instead of throwing (a store outage): its lease lapses and it is retried. */
  async runSafely(video: VideoRef): Promise<void> {
    try {
      await this.run(video);
    } catch (error) {
      this.log(video).error("job step failed; the poll will retry it", describeError(error));
    }
  }
}
