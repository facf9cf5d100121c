// Where jobs live: the narrow interface the daemon and the CLI work against.
import type { Claim, Job, VideoRef } from "./job.js";

export type ClaimResult = { claimed: true; claim: Claim } | { claimed: false; job?: Job };

export interface Outcome {
  now: number;
  statusCode?: number;
}

export interface JobStore {
  /** Creates the table when it is missing and waits until it is usable. */
  ensureTable(): Promise<void>;
  get(ref: VideoRef): Promise<Job | undefined>;
  /** The jobs that exist among refs, by jobId. */
  getMany(refs: readonly VideoRef[]): Promise<Map<string, Job>>;
  /**
   * Atomically takes the job when it is claimable (new, pending and due, or running past its
   * claim expiry), counting an attempt. On conflict, returns the current record instead.
   */
  claim(ref: VideoRef, owner: string, now: number, leaseMs: number): Promise<ClaimResult>;
  /** The outcome writes below succeed only while the claim is still held; false when it was lost. */
  succeed(claim: Claim, outcome: Outcome & { result?: string }): Promise<boolean>;
  fail(claim: Claim, outcome: Outcome & { reason: string }): Promise<boolean>;
  retryLater(claim: Claim, outcome: Outcome & { reason: string; nextAttemptAt: number }): Promise<boolean>;
  /**
   * The function was busy (429) and did not start the work: pending until nextAttemptAt, with the
   * claim's attempt given back, so busy answers never use up MAX_ATTEMPTS.
   */
  busy(claim: Claim, outcome: Outcome & { reason: string; nextAttemptAt: number }): Promise<boolean>;
  /** Extends a held claim (the heartbeat of a running call). */
  renew(claim: Claim, outcome: Outcome & { claimExpiresAt: number }): Promise<boolean>;
  /** Async mode: the gateway queued the call; the claim is extended to wait for the callback. */
  accepted(claim: Claim, outcome: Outcome & { callId?: string; claimExpiresAt: number }): Promise<boolean>;
  /** A failed job back to pending with its attempts reset; false unless it was failed. */
  requeue(ref: VideoRef, now: number): Promise<boolean>;
  /** Every version of one object's jobs. */
  findByKey(bucket: string, key: string): Promise<Job[]>;
  /** All jobs (for `trigger status`). */
  list(): Promise<Job[]>;
}
