// Where the shared labeled data lives (the course's videos and gallery, the eval sets): for the
// scripts (bench, eval, demo) and the tests. A user's clone has none.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const DATA_ENV = "FACEREC_DATA_DIR";

/** FACEREC_DATA_DIR, else ../shared/data beside the repository; undefined when it holds no data. */
export function dataDir(): string | undefined {
  const dir = process.env[DATA_ENV] ?? resolve(import.meta.dirname, "../../shared/data");
  return existsSync(join(dir, "cse546")) ? dir : undefined;
}
