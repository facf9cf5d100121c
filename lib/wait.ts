// Waiting for something another process does, by asking until it is so.
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined, and returns it;
 * throws after `timeoutMs`, naming `what` and the last error `check` threw.
 */
export async function poll<T>(
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
