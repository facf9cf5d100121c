// Peak memory from /proc: VmHWM ("high water mark") is the most resident memory a process ever
// had, so one read at the end covers every moment before it.
import { readdirSync, readFileSync } from "node:fs";

/** This process's peak resident memory, in KiB. */
export function peakKb(pid: number | "self" = "self"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0; // gone
  }
}

/** The processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces or parentheses, so split after the last ")".
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** A process's command name and state letter (R, S, T for stopped, Z…), or undefined once it is gone. */
export function processState(pid: number): { comm: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const end = stat.lastIndexOf(")");
    return { comm: stat.slice(stat.indexOf("(") + 1, end), state: stat.charAt(end + 2) };
  } catch {
    return undefined;
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
