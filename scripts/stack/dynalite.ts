// dynalite, a DynamoDB-compatible server in Node, as the local DynamoDB endpoint: started detached
// on 127.0.0.1, in memory or on a LevelDB directory, and stopped by its pid.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { isOurProcess, readPidFile, spawnDetached, stopPidFile, tail } from "../../lib/daemon.js";
import { httpStatus, portIsFree } from "../../lib/net.js";
import { poll } from "../../lib/wait.js";

export interface DynaliteOptions {
  port: number;
  pidFile: string;
  logFile: string;
  /** Ownership marker checked before any signal (see lib/daemon.ts): the owner's state dir. */
  marker: string;
  /** LevelDB directory; in memory when absent. */
  dataPath?: string;
  timeoutMs?: number;
}

export interface Dynalite {
  endpoint: string;
  pid: number;
  /** True when it was already running. */
  reused: boolean;
}

export function dynaliteEndpoint(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/** Starts dynalite unless ours already runs from this pid file; resolves when it answers HTTP. */
export async function startDynalite(options: DynaliteOptions): Promise<Dynalite> {
  const endpoint = dynaliteEndpoint(options.port);
  const running = readPidFile(options.pidFile);
  if (running !== undefined && isOurProcess(running, options.marker) && (await httpStatus(endpoint)) !== undefined) {
    return { endpoint, pid: running, reused: true };
  }
  await stopDynalite(options);
  if (!(await portIsFree(options.port))) throw new Error(`dynalite: port ${options.port} on 127.0.0.1 is in use`);
  for (const file of [options.pidFile, options.logFile]) mkdirSync(dirname(file), { recursive: true });
  if (options.dataPath) mkdirSync(options.dataPath, { recursive: true });

  const cli = createRequire(import.meta.url).resolve("dynalite/cli.js");
  const args = [cli, "--host", "127.0.0.1", "--port", String(options.port)];
  // Tables become ACTIVE at once instead of after 500 ms: nothing here tests the CREATING state.
  args.push("--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0");
  if (options.dataPath) args.push("--path", resolve(options.dataPath));
  const pid = await spawnDetached(process.execPath, args, {
    marker: options.marker,
    logFile: options.logFile,
    pidFile: options.pidFile,
  });
  try {
    await poll(
      `dynalite on port ${options.port}`,
      async () => {
        if (!isOurProcess(pid, options.marker)) throw new Error(`it exited:\n${tail(options.logFile)}`);
        return (await httpStatus(endpoint)) === undefined ? undefined : true;
      },
      options.timeoutMs ?? 15_000,
    );
  } catch (error) {
    await stopDynalite(options);
    throw error;
  }
  return { endpoint, pid, reused: false };
}

/** Stops the dynalite in the pid file, if it is ours and runs. Leaves its data in place. */
export async function stopDynalite(options: Pick<DynaliteOptions, "pidFile" | "marker">): Promise<void> {
  await stopPidFile(options.pidFile, options.marker, 5000);
}

export async function dynaliteStatus(
  options: Pick<DynaliteOptions, "pidFile" | "marker" | "port">,
): Promise<{ endpoint: string; pid?: number; running: boolean; answers: boolean }> {
  const endpoint = dynaliteEndpoint(options.port);
  const pid = readPidFile(options.pidFile);
  const running = pid !== undefined && isOurProcess(pid, options.marker);
  return { endpoint, pid, running, answers: running && (await httpStatus(endpoint)) !== undefined };
}
