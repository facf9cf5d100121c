// Processes on this machine, read from /proc (Linux): whether one lives, who started whom, in what
// state, with what command; and running a command to completion within a time limit.
// Hand-written: pidtree and ps-list run `ps` asynchronously and give no state letter (T, Z), which
// callers read synchronously, inside their polling conditions.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** True while a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** /proc/<pid>/<entry> as text, or undefined once the process is gone. */
export function procText(pid: number | "self", entry: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${entry}`, "utf8");
  } catch {
    return undefined;
  }
}

/** Peak resident memory (VmHWM, the most a process ever had resident) in KiB, or undefined once it is gone. */
export function peakResidentKb(pid: number | "self"): number | undefined {
  const status = procText(pid, "status");
  return status === undefined ? undefined : Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
}

export interface ProcStat {
  comm: string;
  /** R, S, D, T (stopped), Z (zombie)… */
  state: string;
  ppid: number;
  /** The process group. */
  pgrp: number;
}

/** /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces or ")", so fields follow the last ")". */
export function procStat(pid: number): ProcStat | undefined {
  const stat = procText(pid, "stat");
  if (!stat) return undefined;
  const end = stat.lastIndexOf(")");
  const [state = "?", ppid, pgrp] = stat.slice(end + 2).split(" ");
  return { comm: stat.slice(stat.indexOf("(") + 1, end), state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/** Every pid in /proc but init's. */
export function allPids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid > 1);
}

/** The processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((child) => procStat(child)?.ppid === pid);
}

/** The processes below `pid`: its children, theirs, and so on. */
export function descendantsOf(pid: number): number[] {
  return childrenOf(pid).flatMap((child) => [child, ...descendantsOf(child)]);
}

/** Sends `signal` to `pid`; false when it cannot (the process is gone). */
export function signalQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    return process.kill(pid, signal);
  } catch {
    return false;
  }
}

/**
 * SIGKILLs `pid` and every process below it, read first (once a parent dies its children are
 * re-parented and no longer found below it); returns the pids below.
 */
export function killTree(pid: number): number[] {
  const below = descendantsOf(pid);
  for (const target of [pid, ...below]) signalQuietly(target, "SIGKILL");
  return below;
}

/** A process's command line (arguments joined by spaces), or "" once it is gone. */
export function commandLine(pid: number): string {
  return (procText(pid, "cmdline") ?? "").split("\0").join(" ").trim();
}

/** The processes below `pid`, with their command name, state letter and command line. */
export function processesBelow(pid: number): { pid: number; comm: string; state: string; args: string }[] {
  return descendantsOf(pid).flatMap((child) => {
    const stat = procStat(child);
    return stat ? [{ pid: child, comm: stat.comm, state: stat.state, args: commandLine(child) }] : [];
  });
}

/** Whether a process has exited (gone, or a zombie its parent has not reaped yet). */
export function exited(pid: number): boolean {
  return [undefined, "Z", "X"].includes(procStat(pid)?.state);
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    cause: unknown,
  ) {
    const detail = stderr.trim().split("\n").slice(-8).join("\n  ");
    super(`${command} failed: ${(cause as Error).message.split("\n")[0]}${detail ? `\n  ${detail}` : ""}`, { cause });
    this.name = "CommandError";
  }
}

/** Runs a command to completion, killed after `timeoutMs`: a CLI that hangs must not hang us. */
export function run(
  command: string,
  args: string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs, killSignal: "SIGKILL", env: options.env, cwd: options.cwd, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          const timedOut = error.killed && error.signal === "SIGKILL";
          const why = timedOut ? new Error(`timed out after ${options.timeoutMs} ms`) : error;
          reject(new CommandError(`${command} ${args.join(" ")}`, stderr, why));
        } else resolve({ stdout, stderr });
      },
    );
  });
}
