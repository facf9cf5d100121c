// The source of truth: every interval, list the bucket and queue each video whose job is new,
// due for a retry, or running (looked at again when its lease may have lapsed). The jobs table is read in batches, so one
// poll costs one listing request per 1,000 objects and one read per 100 videos.
import { describeError, type Logger } from "../lib/log.js";
import { type Job, jobIdOf, uploadTime, type VideoRef } from "./jobs/job.js";
import type { JobStore } from "./jobs/store.js";
import type { Lister } from "./lister.js";
import type { TriggerMetrics } from "./metrics.js";

const BATCH = 100;

export interface PollResult {
  videos: number;
  queued: number;
}

export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      lister: Lister;
      store: JobStore;
      /** Returns whether the video was newly queued (false: it already was); job: its record, if any. */
      enqueue: (video: VideoRef, delayMs: number, job: Job | undefined) => boolean;
      /** When an upload with this job (undefined: none yet) needs a look, in ms; undefined: never. */
      dueIn: (job: Job | undefined) => number | undefined;
      metrics: TriggerMetrics;
      logger: Logger;
    },
    private readonly intervalMs: number,
  ) {}

  /** Polls now, then every interval after the previous poll ended (polls never overlap). */
  start(): void {
    this.stopped = false;
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.pollOnce()
      .then(() => undefined)
      .catch((error: unknown) => {
        this.deps.metrics.polls.inc({ result: "error" });
        this.deps.logger.error("poll failed", describeError(error));
      })
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.intervalMs);
      });
  }

  async pollOnce(): Promise<PollResult> {
    const started = performance.now();
    let batch: VideoRef[] = [];
    const result: PollResult = { videos: 0, queued: 0 };
    const flush = async () => {
      const jobs = await this.deps.store.getMany(batch);
      for (const video of batch) {
        const job = jobs.get(jobIdOf(video));
        const delayMs = this.deps.dueIn(job);
        if (delayMs === undefined || this.stopped) continue;
        if (this.deps.enqueue(video, delayMs, job)) result.queued++;
      }
      batch = [];
    };
    for await (const object of this.deps.lister.videos()) {
      if (this.stopped) break;
      result.videos++;
      batch.push({
        bucket: object.bucket,
        key: object.key,
        etag: object.etag,
        modified: uploadTime(object.lastModified),
      });
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0 && !this.stopped) await flush();
    this.deps.metrics.polls.inc({ result: "ok" });
    this.deps.logger.debug("poll done", { ...result, ms: Math.round(performance.now() - started) });
    return result;
  }

  /** Stops the timer; resolves when a poll in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
