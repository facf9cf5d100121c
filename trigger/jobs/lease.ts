// When another replica's claim has lapsed, judged without comparing clocks (as Kubernetes leader
// election does): a holder renews by bumping the job's leaseVersion; a claim whose token and
// version this replica has seen unchanged for the lease's duration, on its own monotonic clock,
// belongs to a holder that stopped. Wall clocks of different machines are never compared.
import type { Job, SeenLease } from "./job.js";

interface Sighting extends SeenLease {
  /** Monotonic ms when this token and version were first seen. */
  since: number;
  leaseMs: number;
  lastSeen: number;
}

/** Observations not refreshed for this long (beyond their lease) are forgotten. */
const FORGET_AFTER_MS = 10 * 60_000;

export class LeaseObserver {
  private readonly seen = new Map<string, Sighting>();
  private calls = 0;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Ms until the running job's current lease may be taken over (0: now). Records the sighting. */
  lapsesIn(job: Job): number {
    const now = this.clock();
    const token = job.claimToken ?? "";
    const version = job.leaseVersion ?? 0;
    const leaseMs = job.leaseMs ?? 0;
    const known = this.seen.get(job.jobId);
    if (!known || known.token !== token || known.version !== version) {
      this.seen.set(job.jobId, { token, version, since: now, leaseMs, lastSeen: now });
      this.sweep(now);
      return leaseMs;
    }
    known.lastSeen = now;
    return Math.max(0, known.since + known.leaseMs - now);
  }

  /** The lease to take over, when the one last seen has lapsed; undefined otherwise. */
  lapsed(jobId: string): SeenLease | undefined {
    const known = this.seen.get(jobId);
    if (!known || this.clock() < known.since + known.leaseMs) return undefined;
    return { token: known.token, version: known.version };
  }

  forget(jobId: string): void {
    this.seen.delete(jobId);
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    if (++this.calls % 1000 !== 0) return;
    for (const [id, sighting] of this.seen) {
      if (now - sighting.lastSeen > sighting.leaseMs + FORGET_AFTER_MS) this.seen.delete(id);
    }
  }
}
