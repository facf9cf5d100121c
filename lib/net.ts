// Ports and HTTP answers on this machine: whether a port can be bound, a free one, whether a
// server answers.
import { request } from "node:http";
import { createServer } from "node:net";
import { poll } from "./wait.js";

/** HTTP status of a GET, or undefined when nothing answers. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

/** Binds `port` (0: any) exclusively, then closes it; resolves with the port bound, undefined when it cannot. */
function bindOnce(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Whether the port can be bound, waiting up to `graceMs` for it: a process we just stopped can
 * still hold its sockets for a moment after it no longer shows as ours in /proc (the kernel
 * releases a dying process's memory, where its environment is read, before its files).
 */
export async function portIsFree(port: number, host = "127.0.0.1", graceMs = 3000): Promise<boolean> {
  return poll(
    `port ${port}`,
    async () => ((await bindOnce(port, host)) === undefined ? undefined : true),
    graceMs,
  ).catch(() => false);
}

/** A port the kernel considers free now (for tests and tools that must not collide with anyone's defaults). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const port = await bindOnce(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}

/**
 * A distinct free port for each name, none in `avoid` (a range the caller keeps for something else,
 * such as Ceph's OSD ports): one at a time, the kernel may hand a port just released out twice.
 */
export async function freePorts<Name extends string>(
  names: readonly Name[],
  avoid?: { min: number; max: number },
  host = "127.0.0.1",
): Promise<Record<Name, number>> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < names.length; tries++) {
    if (tries >= 20 * names.length) throw new Error(`no ${names.length} distinct free ports on ${host}`);
    const port = await freePort(host);
    if (!avoid || port < avoid.min || port > avoid.max) ports.add(port);
  }
  const free = [...ports];
  return Object.fromEntries(names.map((name, i) => [name, free[i]])) as Record<Name, number>;
}
