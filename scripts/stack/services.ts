// The project's own Node processes in the stack (the function server, the trigger daemon) and its
// one-shot commands (gallery import, notification setup), started from their package.json scripts.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { MARKER_ENV, ourGroupMembers, readPidFile, spawnDetached, stopGroup, tail } from "../../lib/daemon.js";
import { httpStatus, portIsFree } from "../../lib/net.js";
import { poll } from "../../lib/wait.js";
import { REPO_ROOT } from "./config.js";

/**
 * The command behind `npm run <script> -- <args>`. A `node <file>` script runs as it is and a
 * `tsx <file>` script as `node --import tsx <file>`: one process, so SIGTERM reaches the service
 * itself (npm does not forward it, and tsx's own wrapper would deliver it twice). Anything else
 * goes through npm.
 */
export function scriptCommand(
  script: string,
  args: string[],
  repoRoot = REPO_ROOT,
): { command: string; args: string[] } {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts?: Record<string, string> };
  const line = pkg.scripts?.[script];
  if (!line) throw new Error(`package.json has no "${script}" script`);
  const words = line.trim().split(/\s+/);
  // Only a plain `tsx|node file [words]`: anything with shell syntax needs the shell npm brings.
  const plain = words.length > 1 && !/[;&|<>$`'"\\*?()]/.test(line);
  if (plain && words[0] === "tsx") {
    return { command: process.execPath, args: ["--import", "tsx", ...words.slice(1), ...args] };
  }
  if (plain && words[0] === "node") return { command: process.execPath, args: [...words.slice(1), ...args] };
  return { command: "npm", args: ["run", "--silent", script, "--", ...args] };
}

export interface ServiceSpec {
  name: string;
  script: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  /** GET path answering 200 when the service is ready. */
  healthPath: string;
  readyTimeoutMs: number;
  /** How long SIGTERM may take before SIGKILL (a draining trigger needs its shutdown timeout). */
  stopGraceMs: number;
}

export interface ServiceFiles {
  /** The ownership marker (see lib/daemon.ts): the stack's state dir. */
  marker: string;
  pidFile: string;
  logFile: string;
}

export interface ServiceStatus {
  name: string;
  pid?: number;
  running: boolean;
  healthy: boolean;
  url: string;
}

/** Records what a running service was started with, to restart it when that changes. */
const specFile = (files: ServiceFiles) => files.pidFile.replace(/\.pid$/, ".spec");

function fingerprint(spec: ServiceSpec): string {
  const { name, script, args, env, port } = spec;
  return createHash("sha256").update(JSON.stringify({ name, script, args, env, port })).digest("hex");
}

export async function serviceStatus(spec: Pick<ServiceSpec, "name" | "port" | "healthPath">, files: ServiceFiles) {
  const url = `http://127.0.0.1:${spec.port}`;
  const pid = readPidFile(files.pidFile);
  const running = pid !== undefined && ourGroupMembers(pid, files.marker).length > 0;
  const healthy = running && (await httpStatus(`${url}${spec.healthPath}`, 2000)) === 200;
  return { name: spec.name, pid, running, healthy, url } satisfies ServiceStatus;
}

/**
 * Starts the service detached unless it already runs healthy with the same settings; waits for
 * its health check. A service that does not come up is stopped again, its log tail in the error.
 */
export async function startService(
  spec: ServiceSpec,
  files: ServiceFiles,
): Promise<{ pid: number; reused: boolean; ms: number }> {
  const started = Date.now();
  const status = await serviceStatus(spec, files);
  const same = existsSync(specFile(files)) && readFileSync(specFile(files), "utf8") === fingerprint(spec);
  if (status.healthy && status.pid !== undefined && same) return { pid: status.pid, reused: true, ms: 0 };
  await stopService(spec, files);
  if (!(await portIsFree(spec.port))) throw new Error(`${spec.name}: port ${spec.port} on 127.0.0.1 is in use`);

  for (const file of [files.pidFile, files.logFile]) mkdirSync(dirname(file), { recursive: true });
  const { command, args } = scriptCommand(spec.script, spec.args);
  const pid = await spawnDetached(command, args, {
    marker: files.marker,
    logFile: files.logFile,
    pidFile: files.pidFile,
    cwd: REPO_ROOT,
    env: { ...process.env, ...spec.env },
  });
  writeFileSync(specFile(files), fingerprint(spec));
  const health = `http://127.0.0.1:${spec.port}${spec.healthPath}`;
  try {
    await poll(
      `${spec.name} to answer ${health}`,
      async () => {
        if (ourGroupMembers(pid, files.marker).length === 0) throw new Error("it exited");
        return (await httpStatus(health, 2000)) === 200 ? true : undefined;
      },
      spec.readyTimeoutMs,
      200,
    );
  } catch (error) {
    await stopService(spec, files);
    throw new Error(
      `${spec.name} did not start: ${(error as Error).message}\n--- ${files.logFile}:\n${tail(files.logFile)}`,
    );
  }
  return { pid, reused: false, ms: Date.now() - started };
}

export async function stopService(spec: Pick<ServiceSpec, "stopGraceMs">, files: ServiceFiles): Promise<boolean> {
  const pid = readPidFile(files.pidFile);
  if (pid === undefined) return false;
  const wasRunning = ourGroupMembers(pid, files.marker).length > 0;
  await stopGroup(pid, files.marker, spec.stopGraceMs);
  return wasRunning;
}

/**
 * Runs a one-shot script to completion (output appended to logFile), its whole process group
 * killed after timeoutMs. Rejects with the log's tail when it fails.
 */
export async function runScript(
  script: string,
  args: string[],
  options: { env: Record<string, string>; logFile: string; marker: string; timeoutMs: number },
): Promise<void> {
  const { command, args: fullArgs } = scriptCommand(script, args);
  mkdirSync(dirname(options.logFile), { recursive: true });
  writeFileSync(options.logFile, `$ npm run ${script} -- ${args.join(" ")}\n`, { flag: "a" });
  const out = openSync(options.logFile, "a");
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(command, fullArgs, {
      cwd: REPO_ROOT,
      detached: true, // its own group, so a timeout kills npm's children too
      stdio: ["ignore", out, out],
      env: { ...process.env, ...options.env, [MARKER_ENV]: options.marker },
    });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  const timer = setTimeout(() => {
    if (pid !== undefined) void stopGroup(pid, options.marker, 2000);
  }, options.timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (exitCode) => resolve(exitCode));
    });
    if (code !== 0) {
      const why = code === null ? `killed (time limit ${options.timeoutMs} ms?)` : `exit status ${code}`;
      throw new Error(
        `npm run ${script} -- ${args.join(" ")}: ${why}\n--- ${options.logFile}:\n${tail(options.logFile)}`,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}
