// The work queue: p-queue runs entries with bounded concurrency; this wrapper adds what p-queue
// does not have: an id per entry (one waiting or running entry per id), delayed entries, and a
// next run asked for from inside a run (a retry), queued when that run ends. It holds only work
// to do soon: what was done lives in the jobs table, and anything lost here is found by the next poll.
import PQueue from "p-queue";

export interface QueueStats {
  /** Entries waiting: ready now or delayed. */
  depth: number;
  active: number;
}

export class WorkQueue<T> {
  private readonly queue: PQueue;
  private readonly ready = new Set<string>();
  private readonly running = new Set<string>();
  private readonly delayed = new Map<string, { item: T; due: number; timer: NodeJS.Timeout }>();
  /** Next runs asked for by items while they ran (their retries): queued when the run ends. */
  private readonly afterRun = new Map<string, { item: T; due: number }>();
  private stopped = false;

  constructor(
    private readonly work: (item: T, id: string) => Promise<void>,
    concurrency: number,
    private readonly onError: (error: unknown, id: string) => void = () => {},
  ) {
    this.queue = new PQueue({ concurrency });
  }

  /**
   * Queues an item unless one with the same id is already waiting or running; a delayed one is
   * brought forward when the new entry is due sooner. Returns whether anything changed.
   */
  add(id: string, item: T, delayMs = 0): boolean {
    if (this.stopped || this.running.has(id) || this.ready.has(id)) return false;
    const due = Date.now() + Math.max(0, delayMs);
    const waiting = this.delayed.get(id);
    if (waiting) {
      if (waiting.due <= due) return false;
      clearTimeout(waiting.timer);
      this.delayed.delete(id);
    }
    if (delayMs <= 0) {
      this.start(id, item);
      return true;
    }
    const timer = setTimeout(() => {
      this.delayed.delete(id);
      if (!this.stopped && !this.running.has(id)) this.start(id, item);
    }, delayMs);
    timer.unref();
    this.delayed.set(id, { item, due, timer });
    return true;
  }

  /**
   * Like add, but also from inside the item's own run (a retry it scheduled): add refuses a
   * running id, so the next run is kept and queued, after what remains of delayMs, once this run ends.
   */
  requeue(id: string, item: T, delayMs = 0): boolean {
    if (this.stopped) return false;
    if (!this.running.has(id)) return this.add(id, item, delayMs);
    const due = Date.now() + Math.max(0, delayMs);
    const earlier = this.afterRun.get(id);
    if (earlier && earlier.due <= due) return false;
    this.afterRun.set(id, { item, due });
    return true;
  }

  has(id: string): boolean {
    return this.ready.has(id) || this.delayed.has(id) || this.running.has(id) || this.afterRun.has(id);
  }

  stats(): QueueStats {
    return { depth: this.ready.size + this.delayed.size + this.afterRun.size, active: this.running.size };
  }

  private start(id: string, item: T): void {
    this.ready.add(id);
    void this.queue.add(async () => {
      this.ready.delete(id);
      this.running.add(id);
      try {
        await this.work(item, id);
      } catch (error) {
        this.onError(error, id);
      } finally {
        this.running.delete(id);
        const next = this.afterRun.get(id);
        this.afterRun.delete(id);
        if (next) this.add(id, next.item, next.due - Date.now());
      }
    });
  }

  /** Starts nothing more and forgets waiting entries (the jobs table still has them). */
  stop(): void {
    this.stopped = true;
    this.queue.clear();
    this.ready.clear();
    this.afterRun.clear();
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
  }

  /** Resolves true when nothing is running, or false after timeoutMs. */
  async whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const idle = (async () => {
      while (this.running.size > 0) await this.queue.onPendingZero();
      return true as const;
    })();
    try {
      return await Promise.race([idle, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
