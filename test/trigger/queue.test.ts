import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../trigger/queue.js";
import { elapse, eventually, waitFor } from "../support/wait.js";

const idle = (queue: WorkQueue<string>) => () => queue.stats().depth === 0 && queue.stats().active === 0;

function recorder(workMs = 20) {
  const order: string[] = [];
  let running = 0;
  let peak = 0;
  const work = async (item: string) => {
    running++;
    peak = Math.max(peak, running);
    order.push(item);
    await elapse(workMs); // the item's work takes this long
    running--;
  };
  return { order, work, peak: () => peak };
}

describe("WorkQueue", () => {
  it("runs in order with at most `concurrency` at once", async () => {
    const r = recorder();
    const queue = new WorkQueue(r.work, 3);
    for (let i = 0; i < 10; i++) queue.add(`id${i}`, `item${i}`);
    expect(queue.stats()).toEqual({ depth: 7, active: 3 });
    expect(await queue.whenIdle(2000)).toBe(true);
    expect(r.order).toEqual(Array.from({ length: 10 }, (_, i) => `item${i}`));
    expect(r.peak()).toBe(3);
  });

  it("drops duplicates of waiting and running entries", async () => {
    const r = recorder(50);
    const queue = new WorkQueue(r.work, 1);
    expect(queue.add("a", "a1")).toBe(true);
    expect(queue.add("a", "a2")).toBe(false); // running
    expect(queue.add("b", "b1")).toBe(true);
    expect(queue.add("b", "b2")).toBe(false); // waiting
    expect(await eventually(idle(queue), 1000)).toBe(true);
    expect(r.order).toEqual(["a1", "b1"]);
    expect(queue.add("a", "a3")).toBe(true); // done: may come again (the store decides)
  });

  it("delays entries, and brings one forward when it is due sooner", async () => {
    const r = recorder(1);
    const queue = new WorkQueue(r.work, 2);
    queue.add("late", "late", 150);
    queue.add("soon", "soon", 5_000);
    expect(queue.add("soon", "soon-again", 10_000)).toBe(false);
    expect(queue.add("soon", "soon-now", 0)).toBe(true);
    expect(queue.stats().depth + queue.stats().active).toBe(2);
    await waitFor(
      () => r.order.length,
      (n) => n > 0,
      1000,
    );
    expect(r.order).toEqual(["soon-now"]);
    await waitFor(
      () => r.order.length,
      (n) => n > 1,
      1000,
    );
    expect(r.order).toEqual(["soon-now", "late"]);
  });

  it("stop() forgets waiting entries, and whenIdle waits for running ones, within a bound", async () => {
    const r = recorder(200);
    const queue = new WorkQueue(r.work, 1);
    queue.add("a", "a");
    queue.add("b", "b");
    queue.add("c", "c", 50);
    queue.stop();
    expect(queue.stats()).toEqual({ depth: 0, active: 1 });
    expect(queue.add("d", "d")).toBe(false);
    expect(await queue.whenIdle(20)).toBe(false);
    expect(await queue.whenIdle(1000)).toBe(true);
    await elapse(80); // past c's 50 ms delay: a stopped queue starts nothing more
    expect(r.order).toEqual(["a"]);
  });

  it("runs an item again when it schedules its own next run while running (a retry)", async () => {
    const runs: number[] = [];
    const queue: WorkQueue<string> = new WorkQueue(async (item, id) => {
      runs.push(Date.now());
      if (runs.length === 1) expect(queue.requeue(id, item, 100)).toBe(true);
    }, 1);
    queue.add("a", "a");
    expect(await eventually(() => runs.length === 1 && queue.stats().active === 0, 1000)).toBe(true);
    expect(queue.has("a")).toBe(true);
    expect(queue.stats()).toEqual({ depth: 1, active: 0 });
    expect(await eventually(() => runs.length === 2 && idle(queue)(), 1000)).toBe(true);
    expect((runs[1] as number) - (runs[0] as number)).toBeGreaterThanOrEqual(95);
    expect(queue.stats()).toEqual({ depth: 0, active: 0 });
  });

  it("keeps add's refusal of running ids: a poll never queues a second copy of a running job", async () => {
    const r = recorder(50);
    const queue = new WorkQueue(r.work, 1);
    queue.add("a", "a1");
    expect(queue.add("a", "a2")).toBe(false);
    await elapse(100); // past a1's 50 ms run: no second copy follows it
    expect(r.order).toEqual(["a1"]);
  });

  it("reports a failing work item and goes on", async () => {
    const errors: string[] = [];
    const queue = new WorkQueue(
      async (item: string) => {
        if (item === "bad") throw new Error("boom");
      },
      1,
      (error, id) => errors.push(`${id}: ${(error as Error).message}`),
    );
    queue.add("1", "bad");
    queue.add("2", "good");
    expect(await eventually(idle(queue), 1000)).toBe(true);
    expect(errors).toEqual(["1: boom"]);
    expect(queue.stats()).toEqual({ depth: 0, active: 0 });
  });
});
