// Where jobs live: the narrow interface the daemon and the CLI work against.
import type { Claim, Job, SeenLease, VideoRef } from "./job.js";

export type ClaimResult = { claimed: true; claim: Claim } | { claimed: false; job?: Job };

export interface Outcome {
  now: number;
  statusCode?: number;
}

/** A final outcome: the job is not run again (until `retry`, for failed). */
export type Final =
  | { status: "succeeded"; result?: string }
  | { status: "failed"; reason: string }
  | { status: "superseded"; reason: string };

/** Back to pending until nextAttemptAt; busy: the function did not start it, so no attempt is spent. */
export interface Later {
  reason: string;
  nextAttemptAt: number;
  busy?: boolean;
}

export interface JobStore {
  /** Creates the table when it is missing and waits until it is usable. */
  ensureTable(): Promise<void>;
  get(ref: VideoRef): Promise<Job | undefined>;
  /** The jobs that exist among refs, by jobId. */
  getMany(refs: readonly VideoRef[]): Promise<Map<string, Job>>;
  /**
   * Atomically takes the job when it is new, or pending and due, or, with `takeover`, running
   * under exactly that lease (seen unchanged for its duration), counting an attempt. On
   * conflict, returns the current record instead.
   */
  claim(ref: VideoRef, owner: string, now: number, leaseMs: number, takeover?: SeenLease): Promise<ClaimResult>;
  /** The writes below succeed only while the claim is still held; false when it was lost. */
  finish(claim: Claim, outcome: Outcome & Final): Promise<boolean>;
  later(claim: Claim, outcome: Outcome & Later): Promise<boolean>;
  /** Bumps the lease version (the heartbeat of a running call); leaseMs: a new duration. */
  renew(claim: Claim, outcome: Outcome & { leaseMs?: number }): Promise<boolean>;
  /** Async mode: the gateway queued the call; the lease now lasts leaseMs, waiting for the callback. */
  accepted(claim: Claim, outcome: Outcome & { callId?: string; leaseMs: number }): Promise<boolean>;
  /** Gives a held job back at once (shutdown): pending and due now, its attempt not spent. */
  release(claim: Claim, outcome: Outcome): Promise<boolean>;
  /** A failed job back to pending with its attempts reset; false unless it was failed. */
  requeue(ref: VideoRef, now: number): Promise<boolean>;
  /** Every upload's job of one object. */
  findByKey(bucket: string, key: string): Promise<Job[]>;
  /** All jobs (for `trigger status`). */
  list(): Promise<Job[]>;
}
