import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { descendantsOf, exited, killTree, signalQuietly } from "../../lib/process.js";
import { eventually } from "../support/wait.js";

describe("killTree", () => {
  it("kills a process and the processes it started, which would otherwise outlive it", async () => {
    const shell = spawn("sh", ["-c", "sleep 60 & sleep 60 & wait"], { stdio: "ignore" });
    const pid = shell.pid as number;
    expect(await eventually(() => descendantsOf(pid).length === 2)).toBe(true);
    const below = killTree(pid);
    expect(below).toHaveLength(2);
    expect(await eventually(() => [pid, ...below].every(exited))).toBe(true);
  });
});

describe("signalQuietly", () => {
  it("says whether the signal was sent, without throwing for a process that is gone", async () => {
    const child = spawn("sleep", ["60"], { stdio: "ignore" });
    const gone = new Promise((resolve) => child.once("exit", resolve));
    expect(signalQuietly(child.pid as number, "SIGKILL")).toBe(true);
    await gone;
    expect(signalQuietly(child.pid as number, "SIGKILL")).toBe(false);
  });
});
