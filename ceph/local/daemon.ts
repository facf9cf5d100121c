// Local daemons started by this repository (Ceph, dynalite, the function, the trigger): spawned
// detached so they outlive the starting process, logs in files, pid files, and stopped by pid only.
// Every process we spawn carries LOCAL_DAEMON_MARKER=<its state dir> in its environment: before
// signalling a pid read from a file we check that marker, so a recycled pid is never hit.
import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

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

function procText(pid: number, entry: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${entry}`, "utf8");
  } catch {
    return undefined;
  }
}

/** Process state letter from /proc/<pid>/stat (after the parenthesised name, which may hold spaces). */
function procState(pid: number): { state: string; pgrp: number } | undefined {
  const stat = procText(pid, "stat");
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "?", pgrp: Number(fields[2]) };
}

/** True when the pid is alive (not a zombie) and was started by us for this marker. */
export function isOurProcess(pid: number, marker: string): boolean {
  const stat = procState(pid);
  if (!stat || stat.state === "Z" || stat.state === "X") return false;
  const environ = procText(pid, "environ");
  return environ?.split("\0").includes(`${MARKER_ENV}=${marker}`) ?? false;
}

/**
 * Our processes in the group led by `pid` (npm → sh → tsx → node, ffmpeg children...), the leader
 * included while it lives. Members keep the marker because children inherit the environment.
 */
export function ourGroupMembers(pid: number, marker: string): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const member = Number(entry);
    if (!Number.isInteger(member) || member <= 1) continue;
    if (procState(member)?.pgrp === pid && isOurProcess(member, marker)) members.push(member);
  }
  return members;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * SIGTERM to each of the given pids that is still ours, then SIGKILL to whatever is left after
 * `graceMs`; resolves once none of them runs. Returns the pids that needed SIGKILL.
 */
export async function terminate(pids: number[], marker: string, graceMs = 10_000): Promise<number[]> {
  const alive = () => pids.filter((pid) => isOurProcess(pid, marker));
  for (const pid of alive()) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await sleep(50);
  const killed = alive();
  for (const pid of killed) signal(pid, "SIGKILL");
  while (alive().length > 0) await sleep(20);
  return killed;
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

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
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

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? `: ${(lastError as Error).message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** HTTP status of a GET, or undefined when nothing answers. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

/** True when nothing listens on 127.0.0.1:port (we could bind it ourselves). */
function portIsFreeNow(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Whether the port can be bound, waiting up to `graceMs` for it: a process we just stopped can
 * still hold its sockets for a moment after it no longer shows as ours in /proc (the kernel
 * releases a dying process's memory, where its environment is read, before its files).
 */
export async function portIsFree(port: number, host = "127.0.0.1", graceMs = 3000): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    if (await portIsFreeNow(port, host)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/** A port the kernel considers free now (for tests that must not collide with anyone's defaults). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The last lines of a log file, for error messages that say why a daemon did not come up. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
