// Temporary folders of a function process (downloaded videos, ffmpeg's sockets), named after the
// process: one that dies mid-video leaves them, and the next to start removes them.
import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive } from "../../../lib/process.js";

const TEMP_PREFIX = "facerec-";

/** The mkdtemp prefix of this process's temporary folders. */
export function tempDirPrefix(): string {
  return join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`);
}

/**
 * Removes the temporary folders of function processes that died (killed, out of memory): each
 * folder is named after its process, and a live process's folders are kept.
 */
export async function sweepStaleTempDirs(dir = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const pid = Number(new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid || isAlive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
