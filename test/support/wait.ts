// Waiting for something another process does.

/** Reads (or awaits a read) every 20 ms until `ok` holds or `ms` have passed; returns the last value read. */
export async function waitFor<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    const value = await read();
    if (ok(value)) return value;
  }
  return read();
}

/** Whether `done` came true within `ms`. */
export async function eventually(done: () => boolean, ms = 10_000): Promise<boolean> {
  return waitFor(done, (value) => value, ms);
}
