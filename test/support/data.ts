// Where the shared labeled data lives. A user's clone has none: data-dependent tests are then
// skipped with one line naming the variable, except under CI, where missing data is a failure.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const DATA_ENV = "FACEREC_DATA_DIR";

export function dataDir(): string | undefined {
  const dir = process.env[DATA_ENV] ?? resolve(import.meta.dirname, "../../../shared/data");
  return existsSync(join(dir, "cse546")) ? dir : undefined;
}

const warned = new Set<string>();

/** The data folder, or undefined after one skip notice; throws under CI. */
export function requireData(): string | undefined {
  const dir = dataDir();
  if (dir) return dir;
  if (process.env.CI === "true") {
    throw new Error(`shared test data not found: set ${DATA_ENV} to the data folder (CI must have it)`);
  }
  if (!warned.has("data")) {
    warned.add("data");
    console.warn(`skipping data-dependent tests: set ${DATA_ENV} to the shared data folder`);
  }
  return undefined;
}
