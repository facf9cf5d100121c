// Peak memory from /proc: VmHWM ("high water mark") is the most resident memory a process ever
// had, so one read at the end covers every moment before it.
import { readFileSync } from "node:fs";
import { childrenOf } from "../support/processes.js";

/** This process's peak resident memory, in KiB. */
export function peakKb(pid: number | "self" = "self"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0; // gone
  }
}

/** The largest peak among the current children of `pid`, in KiB. */
export function childPeakKb(pid: number): number {
  return Math.max(0, ...childrenOf(pid).map((c) => peakKb(c)));
}

/**
 * Samples the children's peaks every few milliseconds until stopped (a child's VmHWM vanishes with
 * it, so it is read while the child lives); returns the largest seen, in KiB.
 */
export function sampleChildPeaks(pid: number, everyMs = 15): { stop(): Promise<number> } {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, childPeakKb(pid));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      return Math.max(peak, childPeakKb(pid));
    },
  };
}
