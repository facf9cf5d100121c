import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { freePorts, portIsFree } from "../../lib/net.js";

describe("freePorts", () => {
  it("gives each name its own free port, none in the range kept for something else", async () => {
    const names = ["a", "b", "c", "d", "e", "f", "g", "h"] as const;
    // The first quarter of the kernel's ephemeral range: a good share of the ports bind(0) gets lie there.
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    const avoid = { min: low as number, max: Math.floor((low as number) + ((high as number) - (low as number)) / 4) };
    const ports = await freePorts(names, avoid);
    expect(Object.keys(ports)).toEqual([...names]);
    const values = Object.values(ports);
    expect(new Set(values).size).toBe(names.length);
    for (const port of values) {
      expect(port < avoid.min || port > avoid.max, String(port)).toBe(true);
      expect(await portIsFree(port)).toBe(true);
    }
  });

  it("gives up, naming how many it wanted, when the range kept out covers every port", async () => {
    await expect(freePorts(["a"], { min: 1, max: 65_535 })).rejects.toThrow("no 1 distinct free ports");
  });
});
