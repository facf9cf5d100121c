// Data-dependent tests without the shared data (lib/shared-data.ts) are skipped with one line
// naming the variable, except under CI, where missing data is a failure.
import { DATA_ENV, dataDir } from "../../lib/shared-data.js";

let warned = false;

/** The data folder, or undefined after one skip notice; throws under CI. */
export function requireData(): string | undefined {
  const dir = dataDir();
  if (dir) return dir;
  if (process.env.CI === "true") {
    throw new Error(`shared test data not found: set ${DATA_ENV} to the data folder (CI must have it)`);
  }
  if (!warned) {
    warned = true;
    console.warn(`skipping data-dependent tests: set ${DATA_ENV} to the shared data folder`);
  }
  return undefined;
}
