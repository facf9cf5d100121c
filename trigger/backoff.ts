// Retry timing: exponential backoff with jitter, and the server's Retry-After when it gives one.
// Pure logic.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/**
 * The wait before retry number `attempt` (1 = the first retry): base·2^(attempt−1), capped, then
 * "equal jitter" — a random point in the upper half — so replicas that failed together do not
 * retry together, while the wait never collapses to zero.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Retry-After as milliseconds (seconds or an HTTP date), or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The wait before the next attempt: the server's hint when it gives one, within the cap. */
export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const computed = backoffDelay(attempt, options, random);
  return retryAfterMs === undefined ? computed : Math.min(options.maxMs, Math.max(computed, retryAfterMs));
}
