// The real OpenFaaS binaries (of-watchdog, faas-cli), built from source in ../shared/tools/openfaas.
// Nothing of them is copied into the repository. Without them the tests that run them are skipped
// with one notice, except under CI, where their absence is a failure.
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { portIsFree } from "../../lib/net.js";
import { exited, killTree } from "../../lib/process.js";
import { waitFor } from "./wait.js";

export const OPENFAAS_TOOLS_ENV = "OPENFAAS_TOOLS_DIR";

/** The watchdog serves its Prometheus metrics on this port, always: one watchdog per machine at a time. */
export const WATCHDOG_METRICS_PORT = 8081;

const warned = new Set<string>();

/** The path of an OpenFaaS binary (`fwatchdog`, `faas-cli`), or undefined after a notice; throws under CI. */
type Tool = "fwatchdog" | "faas-cli";

const toolsDir = () =>
  process.env[OPENFAAS_TOOLS_ENV] ?? resolve(import.meta.dirname, "../../../shared/tools/openfaas");

export function openfaasTool(name: Tool): string | undefined {
  const path = join(toolsDir(), name);
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    if (process.env.CI === "true")
      throw new Error(`${name} not found at ${path}: CI must run the real OpenFaaS binaries`);
    if (!warned.has(name)) {
      warned.add(name);
      console.warn(`skipping tests that run ${name}: set ${OPENFAAS_TOOLS_ENV} to the folder that holds it`);
    }
    return undefined;
  }
}

/** The release a binary was built from, from the tools folder's README table (`| fwatchdog | … | 0.10.10 |`). */
export function openfaasToolVersion(name: Tool): string | undefined {
  if (!openfaasTool(name)) return undefined;
  const readme = readFileSync(join(toolsDir(), "README.md"), "utf8");
  const row = readme.split("\n").find((line) => line.startsWith(`| ${name} |`));
  const version = row
    ?.split("|")
    .map((cell) => cell.trim())
    .find((cell) => /^\d+\.\d+\.\d+$/.test(cell));
  if (!version) throw new Error(`no version for ${name} in ${join(toolsDir(), "README.md")}`);
  return version;
}

/** A watchdog just spawned: whether it still runs, whether the function behind it said "ready", what it printed. */
export interface StartingWatchdog {
  readonly running: boolean;
  readonly ready: boolean;
  readonly printed: string;
  stop(): Promise<void>;
}

/**
 * Spawns a watchdog (`spawnOne`) and waits until the function behind it is ready. The metrics port
 * is fixed, one watchdog per machine: another test file's watchdog there is waited out, not fought.
 */
export async function startWatchdog<W extends StartingWatchdog>(spawnOne: () => W, ms = 150_000): Promise<W> {
  const deadline = Date.now() + ms;
  const left = () => Math.max(0, deadline - Date.now());
  for (;;) {
    // All interfaces, as the watchdog binds it.
    await portIsFree(WATCHDOG_METRICS_PORT, "0.0.0.0", left());
    const watchdog = spawnOne();
    await waitFor(() => !watchdog.running || watchdog.ready, Boolean, left());
    if (watchdog.running && watchdog.ready) return watchdog;
    await watchdog.stop();
    const taken = watchdog.printed.includes(`:${WATCHDOG_METRICS_PORT}: bind: address already in use`);
    if (!taken || left() === 0)
      throw new Error(`the function did not become ready behind the watchdog:\n${watchdog.printed}`);
  }
}

/**
 * The watchdog and everything under it kill -9'd; true once all are gone. A SIGKILLed watchdog
 * cannot stop the function it forked: that is killed too, not orphaned.
 */
export async function killWatchdog(child: ChildProcess, exit: Promise<unknown>): Promise<boolean> {
  const below = child.exitCode === null && child.signalCode === null ? killTree(child.pid as number) : [];
  await exit;
  return waitFor(() => below.every(exited), Boolean, 10_000);
}
