// An in-memory work queue with bounded concurrency, delayed entries and de-duplication by id.
// It holds only work to do soon: what was done lives in the jobs table, and anything lost here
// (a restart, a dropped timer) is found again by the next poll.

export interface QueueStats {
  /** Entries waiting: ready now or delayed. */
  depth: number;
  active: number;
}

export class WorkQueue<T> {
  private readonly ready = new Map<string, T>(); // insertion order = FIFO
  private readonly delayed = new Map<string, { item: T; due: number; timer: NodeJS.Timeout }>();
  private readonly running = new Set<string>();
  /** Next runs asked for by items while they ran (their retries): queued when the run ends. */
  private readonly afterRun = new Map<string, { item: T; due: number }>();
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly work: (item: T, id: string) => Promise<void>,
    private readonly concurrency: number,
    private readonly onError: (error: unknown, id: string) => void = () => {},
  ) {}

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
      this.ready.set(id, item);
      this.pump();
    } else {
      const timer = setTimeout(() => {
        this.delayed.delete(id);
        if (this.stopped || this.running.has(id)) return;
        this.ready.set(id, item);
        this.pump();
      }, delayMs);
      timer.unref();
      this.delayed.set(id, { item, due, timer });
    }
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

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.ready.size > 0) {
      const [id, item] = this.ready.entries().next().value as [string, T];
      this.ready.delete(id);
      this.running.add(id);
      void this.work(item, id)
        .catch((error: unknown) => this.onError(error, id))
        .finally(() => {
          this.running.delete(id);
          const next = this.afterRun.get(id);
          if (next) {
            this.afterRun.delete(id);
            this.add(id, next.item, next.due - Date.now());
          }
          this.pump();
          if (this.running.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        });
    }
  }

  /** Starts nothing more and forgets waiting entries (the jobs table still has them). */
  stop(): void {
    this.stopped = true;
    this.ready.clear();
    this.afterRun.clear();
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
  }

  /** Resolves true when nothing is running, or false after timeoutMs. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
