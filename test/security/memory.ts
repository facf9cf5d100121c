// Peak memory from /proc: VmHWM ("high water mark") is the most resident memory a process ever
// had, so one read at the end covers every moment before it.
import { peakResidentKb, processesBelow } from "../../lib/process.js";

/** This process's peak resident memory, in KiB. */
export function peakKb(pid: number | "self" = "self"): number {
  return peakResidentKb(pid) ?? 0; // 0 once it is gone
}

/** The largest peak among the processes below `pid` running `comm` (e.g. "ffmpeg"), in KiB. */
export function descendantPeakKb(pid: number, comm: string): number {
  const named = processesBelow(pid).filter((p) => p.comm === comm);
  return Math.max(0, ...named.map((p) => peakKb(p.pid)));
}

/**
 * Samples those peaks every few milliseconds until stopped (a process's VmHWM vanishes with it, so
 * it is read while the process lives); returns the largest seen, in KiB.
 */
export function sampleDescendantPeaks(pid: number, comm: string, everyMs = 15): { stop(): Promise<number> } {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, descendantPeakKb(pid, comm));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      return Math.max(peak, descendantPeakKb(pid, comm));
    },
  };
}
