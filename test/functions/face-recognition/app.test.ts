import { describe, expect, it } from "vitest";
import { oneAtATime } from "../../../functions/face-recognition/app.js";
import { elapse } from "../../support/wait.js";

describe("oneAtATime", () => {
  it("runs calls one after another, in order, whatever each one's outcome", async () => {
    const events: string[] = [];
    const work = oneAtATime(async (name: string, ms: number, fail = false) => {
      events.push(`start ${name}`);
      await elapse(ms); // each call takes its own time, so order shows one at a time
      events.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    });
    const results = await Promise.allSettled([work("a", 30), work("b", 5, true), work("c", 1)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(events).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });
});
