// A job: one upload of one video (bucket, key, ETag), and its way through the states below.
// A re-upload has a new ETag and so is a new job. Pure logic: the store applies the same rules
// atomically in its conditional writes.
import { createHash } from "node:crypto";

/**
 * pending   — known and waiting for its next attempt (after a transient failure, or `retry`)
 * running   — claimed by a replica until claimExpiresAt; past that its owner is taken for dead
 * succeeded — the function answered 200; final
 * failed    — a permanent answer, or the attempts ran out; stays visible until `trigger retry`
 */
export type JobStatus = "pending" | "running" | "succeeded" | "failed";
export const JOB_STATUSES: readonly JobStatus[] = ["pending", "running", "succeeded", "failed"];

export interface VideoRef {
  bucket: string;
  key: string;
  etag: string;
}

export interface Job extends VideoRef {
  jobId: string;
  status: JobStatus;
  /** Invocations started, including ones cut off by a crash. */
  attempts: number;
  createdAt: string;
  updatedAt: string;
  owner?: string;
  claimToken?: string;
  /** Epoch ms. */
  claimExpiresAt?: number;
  /** Epoch ms; a pending job is not claimable before it. */
  nextAttemptAt?: number;
  lastAttemptAt?: string;
  finishedAt?: string;
  lastError?: string;
  lastStatusCode?: number;
  /** Busy answers (429) so far: they cost no attempt, and set the next wait's backoff. */
  busyAnswers?: number;
  /** The function's answer (JSON text, truncated). */
  result?: string;
  /** The gateway's X-Call-Id in async mode. */
  callId?: string;
}

/** A held claim: only its token's holder may record the outcome (a fencing token). */
export interface Claim {
  job: Job;
  token: string;
}

/** A short, stable id for logs and callbacks: the same on every replica. */
export function jobIdOf(ref: VideoRef): string {
  return createHash("sha256").update(`${ref.bucket}\0${ref.key}\0${ref.etag}`).digest("hex").slice(0, 16);
}

/** Whether a replica may claim the job now (undefined: never seen, so yes). */
export function isClaimable(job: Job | undefined, now: number): boolean {
  if (!job) return true;
  if (job.status === "pending") return (job.nextAttemptAt ?? 0) <= now;
  if (job.status === "running") return (job.claimExpiresAt ?? 0) < now;
  return false;
}

/**
 * When the job should next be looked at by this replica, in ms from now, or undefined when it
 * needs nothing (finished, or held by a live claim: the owner records its outcome).
 */
export function dueIn(job: Job | undefined, now: number): number | undefined {
  if (isClaimable(job, now)) return 0;
  if (job?.status === "pending") return Math.max(0, (job.nextAttemptAt ?? now) - now);
  return undefined;
}
