// The stack's state dir: the settings `up` saved, the guard against deleting a dir that is not a
// stack's, and the lock that lets one `up` or `down` work on it at a time.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isAlive } from "../../lib/process.js";
import { type StackConfig, stackPaths } from "./config.js";

export function readSavedConfig(dir: string): StackConfig | undefined {
  try {
    return JSON.parse(readFileSync(stackPaths(dir).state, "utf8")) as StackConfig;
  } catch {
    return undefined;
  }
}

/** `down` deletes the dir: refuse one that holds anything but a stack (a mistyped STACK_DIR). */
export function assertStackDir(dir: string): void {
  if (!existsSync(dir) || existsSync(stackPaths(dir).state) || readdirSync(dir).length === 0) return;
  throw new Error(`${dir} exists and is not a stack dir (no stack.json): choose another STACK_DIR`);
}

/** One `up` or `down` at a time per dir; a lock left by a dead process is taken over. */
export async function withLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const lock = stackPaths(dir).lock;
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
  } catch {
    const holder = Number(readFileSync(lock, "utf8"));
    if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
      throw new Error(`another stack up/down (pid ${holder}) works on ${dir}`);
    }
    writeFileSync(lock, String(process.pid));
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}
