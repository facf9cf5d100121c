// A job: one upload of one video (bucket, key, ETag, upload time), and its way through the states
// below. The upload time is part of the identity, so a re-upload of content seen before (A→B→A:
// the same ETag again) is a new job. Pure logic: the store applies the rules in conditional writes.
import { createHash } from "node:crypto";

/**
 * pending    — known and waiting for its next attempt (after a transient failure, or `retry`)
 * running    — claimed by a replica, which renews its lease while the call runs
 * succeeded  — the function answered 200; final
 * failed     — a permanent answer, or the attempts ran out; stays visible until `trigger retry`
 * superseded — the object was replaced before the function read it (409): the newer upload's own
 *              job reports it; final
 */
export type JobStatus = "pending" | "running" | "succeeded" | "failed" | "superseded";
export const JOB_STATUSES: readonly JobStatus[] = ["pending", "running", "succeeded", "failed", "superseded"];

export interface VideoRef {
  bucket: string;
  key: string;
  etag: string;
  /** The upload's Last-Modified in whole seconds (ISO 8601), as both a listing and a HEAD give it; absent or "" when unknown. */
  modified?: string;
}

export interface Job extends VideoRef {
  modified: string;
  jobId: string;
  status: JobStatus;
  /** Invocations started, including ones cut off by a crash. */
  attempts: number;
  createdAt: string;
  updatedAt: string;
  owner?: string;
  claimToken?: string;
  /** Bumped by every renewal: a lease others see unchanged for leaseMs has lapsed. */
  leaseVersion?: number;
  /** How long the current lease holds without a renewal. */
  leaseMs?: number;
  /** Epoch ms; a pending job is not claimable before it (a retry's time, not a safety rule). */
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

/** A lease as another replica saw it: the takeover is conditional on it being still the same. */
export interface SeenLease {
  token: string;
  version: number;
}

/** Last-Modified cut to whole seconds: a listing may give milliseconds, a HEAD never does. */
export function uploadTime(date: Date | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return "";
  return new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** A short, stable id for logs and callbacks: the same on every replica. */
export function jobIdOf(ref: VideoRef): string {
  return createHash("sha256")
    .update(`${ref.bucket}\0${ref.key}\0${ref.etag}\0${ref.modified ?? ""}`)
    .digest("hex")
    .slice(0, 16);
}

/** Only the upload's identity, without a job's other fields. */
export function refOf(ref: VideoRef): VideoRef {
  return { bucket: ref.bucket, key: ref.key, etag: ref.etag, modified: ref.modified ?? "" };
}

/**
 * When the job should next be looked at by this replica, in ms from now, or undefined when it
 * needs nothing (finished). A running job is looked at again when its lease may have lapsed, as
 * `lapsesIn` judges it on this replica's own clock.
 */
export function dueIn(job: Job | undefined, now: number, lapsesIn: (job: Job) => number): number | undefined {
  if (!job) return 0;
  if (job.status === "pending") return Math.max(0, (job.nextAttemptAt ?? now) - now);
  if (job.status === "running") return lapsesIn(job);
  return undefined;
}
