// Local daemons started by this repository (Ceph, dynalite, the function, the trigger): spawned
// detached so they outlive the starting process, logs in files, pid files, and stopped by pid only.
// Every process we spawn carries LOCAL_DAEMON_MARKER=<its state dir> in its environment: before
// signalling a pid read from a file we check that marker, so a recycled pid is never hit.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { allPids, procStat, procText } from "./process.js";

export const MARKER_ENV = "LOCAL_DAEMON_MARKER";

export interface SpawnDetachedOptions {
  /** Put in the process's environment and checked before any signal: the owner's state dir. */
  marker: string;
  /** stdout and stderr of the process are appended here. */
  logFile: string;
  /** The pid is written here right after the spawn. */
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a process in its own process group (so it survives us and a Ctrl-C of the starter) and
 * returns its pid. A process that cannot even be executed (ENOENT) is reported as an error.
 */
export async function spawnDetached(command: string, args: string[], options: SpawnDetachedOptions): Promise<number> {
  const out = openSync(options.logFile, "a");
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", out, out],
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), [MARKER_ENV]: options.marker },
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("spawn", () => (child.pid ? resolve(child.pid) : reject(new Error(`${command}: no pid`))));
    });
    child.unref();
    writeFileSync(options.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(out);
  }
}

export function readPidFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** True when the pid is alive (not a zombie) and was started by us for this marker. */
export function isOurProcess(pid: number, marker: string): boolean {
  const stat = procStat(pid);
  if (!stat || stat.state === "Z" || stat.state === "X") return false;
  return procText(pid, "environ")?.split("\0").includes(`${MARKER_ENV}=${marker}`) ?? false;
}

/**
 * Our processes in the group led by `pid` (npm → sh → tsx → node, ffmpeg children...), the leader
 * included while it lives. Members keep the marker because children inherit the environment.
 */
export function ourGroupMembers(pid: number, marker: string): number[] {
  return allPids().filter((member) => procStat(member)?.pgrp === pid && isOurProcess(member, marker));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * Stops the process group led by `pid`. SIGTERM goes to the leader alone: a service that forwards
 * it (the function's primary to its workers) must not get its children signalled twice. Members
 * left once the leader is gone (children of a wrapper such as npm, which does not forward) get
 * their own SIGTERM; whatever still runs after `graceMs` gets SIGKILL. Returns the pids killed.
 */
export async function stopGroup(pid: number, marker: string, graceMs = 10_000): Promise<number[]> {
  const members = () => ourGroupMembers(pid, marker);
  const deadline = Date.now() + graceMs;
  const termed = new Set<number>();
  const term = (target: number) => {
    if (!termed.has(target)) signal(target, "SIGTERM");
    termed.add(target);
  };
  if (isOurProcess(pid, marker)) term(pid);
  while (members().length > 0 && Date.now() < deadline) {
    if (!isOurProcess(pid, marker)) for (const member of members()) term(member);
    await sleep(50);
  }
  const killed = members();
  for (const member of killed) signal(member, "SIGKILL");
  while (members().length > 0) await sleep(20);
  return killed;
}

/** Stops the process group whose leader's pid is in the file; nothing when it is not ours. */
export async function stopPidFile(pidFile: string, marker: string, graceMs = 10_000): Promise<number[]> {
  const pid = readPidFile(pidFile);
  return pid === undefined ? [] : stopGroup(pid, marker, graceMs);
}

/** The last lines of a log file, for error messages that say why a daemon did not come up. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
