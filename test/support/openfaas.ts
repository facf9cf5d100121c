// The real OpenFaaS binaries (of-watchdog, faas-cli), built from source in ../shared/tools/openfaas.
// Nothing of them is copied into the repository. Without them the tests that run them are skipped
// with one notice, except under CI, where their absence is a failure.
import { accessSync, constants, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

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
