// The tests' one way to wait: for a condition (polled), for a promise (with a time
// limit), or, where a test means a length of time itself (an outage, a quiet period it asserts),
// for that time, named as such. A fixed sleep standing in for "until X happened" is neither.
import { setTimeout as sleep } from "node:timers/promises";

const POLL_MS = 20;

/** Reads (or awaits a read) every 20 ms until `ok` holds or `ms` have passed; returns the last value read. */
export async function waitFor<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(POLL_MS)) {
    const value = await read();
    if (ok(value)) return value;
  }
  return read();
}

/** Whether `done` came true within `ms`. */
export async function eventually(done: () => boolean, ms = 10_000): Promise<boolean> {
  return waitFor(done, (value) => value, ms);
}

/** The promise's value, or an error naming `what` when it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timer = new AbortController();
  const late = sleep(ms, undefined, { signal: timer.signal }).then(() => {
    throw new Error(`${what}: nothing within ${ms} ms`);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    timer.abort();
    late.catch(() => undefined);
  }
}

/** A length of time the test is about (an outage, a quiet period it checks), never a stand-in for an event. */
export function elapse(ms: number): Promise<void> {
  return sleep(ms);
}
