// The process tree under a process, read from /proc: who started whom, in what state, with what command.
import { readdirSync, readFileSync } from "node:fs";

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

/** The processes below `pid`: its children, theirs, and so on. */
export function descendantsOf(pid: number): number[] {
  return childrenOf(pid).flatMap((child) => [child, ...descendantsOf(child)]);
}

/** A process's command line (arguments joined by spaces), or "" once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
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

/** The processes below `pid`, with their command name, state letter and command line. */
export function processesBelow(pid: number): { pid: number; comm: string; state: string; args: string }[] {
  return descendantsOf(pid).flatMap((child) => {
    const state = processState(child);
    return state ? [{ pid: child, ...state, args: commandLine(child) }] : [];
  });
}

/** Whether a process has exited (gone, or a zombie its parent has not reaped yet). */
export function exited(pid: number): boolean {
  return [undefined, "Z"].includes(processState(pid)?.state);
}
