// Faults through the whole stack: a function worker killed mid-video, then Ceph RGW and then
// dynalite stopped and restarted during the batch. Once each part is back, every video is processed (or failed with its
// reason), nothing twice, the trigger's jobs all finished, and no temporary file is left behind.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../lib/config.js";
import { readS3Settings } from "../../lib/cloud.js";
import { createS3Client, listAllObjects } from "../../lib/s3.js";
import { type StackInfo, stackDown, stackStatus, stackUp } from "../../scripts/stack/stack.js";
import { requireData } from "../support/data.js";
import { descendantsOf, exited, procStat } from "../../lib/process.js";
import { foldersOf, videoFolders } from "../support/temp-dirs.js";
import { privateStackEnv } from "../support/services.js";
import { elapse, eventually, waitFor } from "../support/wait.js";

const data = requireData();

describe.skipIf(!data)("faults through the local stack", () => {
  let env: Record<string, string | undefined>;
  let stack: StackInfo | undefined;
  const work = mkdtempSync(join(tmpdir(), "e2e-faults-"));
  const dir = join(work, "stack");
  const respawned: ChildProcess[] = [];

  /**
   * Stops a daemon of the stack for a while, then starts it again exactly as it ran (its command
   * line and folder); the respawned process is this test's to stop.
   */
  async function stopFor(pid: number, ms: number): Promise<void> {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    process.kill(pid, "SIGTERM");
    if (!(await eventually(() => exited(pid), 15_000))) process.kill(pid, "SIGKILL");
    await elapse(ms); // the outage, held for its full length
    const child = spawn(cmdline[0] as string, cmdline.slice(1), { cwd, detached: true, stdio: "ignore" });
    child.unref();
    respawned.push(child);
  }

  const functionLog = () => readFileSync(join(dir, "logs", "function.log"), "utf8");
  const cephPids = async () => (await stackStatus({ env })).components.find((c) => c.name === "ceph")?.pids ?? [];
  const functionWorkers = async () => {
    const fn = (await stackStatus({ env })).components.find((c) => c.name === "function");
    return (fn?.pids ?? []).flatMap(descendantsOf);
  };
  const comm = (pid: number) => procStat(pid)?.comm ?? "";

  beforeAll(async () => {
    env = await privateStackEnv(dir);
    stack = await stackUp({ env, log: () => undefined });
  }, 300_000);

  afterAll(async () => {
    for (const child of respawned) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await eventually(() => respawned.every((child) => child.exitCode !== null || child.signalCode !== null), 10_000);
    if (stack) await stackDown({ env }).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  it("a worker killed mid-video, RGW and dynalite restarted mid-batch: every video done once, jobs finished, no temp files", async () => {
    const s3Settings = readSettings((stack as StackInfo).env, readS3Settings);
    const s3 = createS3Client(s3Settings);
    const videos = ["test_0", "test_1", "test_2", "test_4", "test_5", "test_6", "test_7", "test_8"];
    const uploads = [
      ...videos.flatMap((v) =>
        [1, 2].map((n) => ({
          key: `faults/${v}-${n}.mp4`,
          file: join(data as string, "cse546", "videos", `${v}.mp4`),
        })),
      ),
    ];
    const bad = [{ key: "faults/junk.mp4", body: Buffer.from("not a video") }];
    for (const u of uploads.slice(0, 8)) {
      await s3.send(new PutObjectCommand({ Bucket: s3Settings.inputBucket, Key: u.key, Body: readFileSync(u.file) }));
    }
    // 1. A worker killed mid-video (one with a downloaded video in its temporary folder; every
    // worker has an ffmpeg waiting, so that is no sign): the cluster primary replaces it, and the
    // trigger retries the video.
    const decoding = async () => {
      const busy = videoFolders(tmpdir());
      return (await functionWorkers()).find(
        (pid) => comm(pid) === "node" && busy.some((d) => d.startsWith(`facerec-${pid}-`)),
      );
    };
    const victim = await waitFor(decoding, (pid) => pid !== undefined, 60_000);
    if (victim === undefined) throw new Error("no worker ever decoded a video");
    process.kill(victim, "SIGKILL");

    // 2. RGW stopped for 8 s mid-batch, then started again (the osd keeps the data).
    const rgw = (await cephPids()).find((pid) => comm(pid) === "radosgw") as number;
    expect(rgw).toBeDefined();
    await stopFor(rgw, 8_000);
    // The rest of the batch once RGW is back (retrying until it answers).
    const back = Date.now() + 60_000;
    for (const u of [...uploads.slice(8), ...bad.map((b) => ({ key: b.key, file: "" }))]) {
      const body = u.file ? readFileSync(u.file) : (bad[0] as { body: Buffer }).body;
      let refusal: unknown;
      const upload = () =>
        s3.send(new PutObjectCommand({ Bucket: s3Settings.inputBucket, Key: u.key, Body: body })).then(
          () => true,
          (err: unknown) => {
            refusal = err;
            return false;
          },
        );
      if (!(await waitFor(upload, (stored) => stored, Math.max(0, back - Date.now())))) throw refusal;
    }

    // 3. dynalite (the jobs table and the students) stopped for 8 s while the batch runs.
    const dynamo = (await stackStatus({ env })).components.find((c) => c.name === "dynamodb")?.pids[0] as number;
    expect(dynamo).toBeDefined();
    await stopFor(dynamo, 8_000);

    // Every video answered: a CSV, or the error report for the junk.
    const expected = [...uploads.map((u) => u.key.replace(/\.mp4$/, ".csv")), "faults/junk.error.json"].sort();
    const outputs = async () => {
      const keys: string[] = [];
      try {
        for await (const o of listAllObjects(s3, s3Settings.outputBucket, "faults/")) keys.push(o.key);
      } catch {
        // RGW still coming back
      }
      return keys;
    };
    const present = await waitFor(outputs, (keys) => expected.every((k) => keys.includes(k)), 240_000);
    expect(expected.filter((k) => !present.includes(k))).toEqual([]);

    // Nothing processed twice: each key finished once in the function's log.
    const finished = new Map<string, number>();
    for (const line of functionLog().split("\n")) {
      const m =
        /"msg":"(video done|video refused)".*"videoKey":"([^"]+)"|"videoKey":"([^"]+)".*"msg":"(video done|video refused)"/.exec(
          line,
        );
      const key = m?.[2] ?? m?.[3];
      if (key) finished.set(key, (finished.get(key) ?? 0) + 1);
    }
    const all = [...uploads.map((u) => u.key), ...bad.map((b) => b.key)];
    expect(all.filter((k) => finished.get(k) !== 1).map((k) => `${k}: ${finished.get(k) ?? 0}`)).toEqual([]);
    // The kill did cut a video short: its key was started again by another worker.
    const startedCount = new Map<string, number>();
    for (const line of functionLog().split("\n")) {
      const key = /"msg":"video started"/.test(line) ? /"videoKey":"([^"]+)"/.exec(line)?.[1] : undefined;
      if (key) startedCount.set(key, (startedCount.get(key) ?? 0) + 1);
    }
    const restarted = [...startedCount].filter(([, n]) => n > 1).map(([k]) => k);
    console.log(`started again after the faults: ${restarted.join(", ")}`);
    expect(restarted.length).toBeGreaterThan(0);
    expect(functionLog()).toContain("worker died, starting another");

    // The trigger's jobs: all finished, the junk failed with its reason.
    const status = JSON.parse(
      execFileSync(process.execPath, ["--import", "tsx", "trigger/cli.ts", "status", "--json"], {
        env: { ...process.env, ...(stack as StackInfo).env },
      }).toString(),
    ) as { counts: Record<string, number>; jobs: Record<string, { key: string; lastError?: string }[]> };
    console.log(`trigger jobs after the faults: ${JSON.stringify(status.counts)}`);
    expect(status.counts.pending ?? 0).toBe(0);
    expect(status.counts.running ?? 0).toBe(0);
    expect((status.jobs.failed ?? []).map((j) => [j.key, j.lastError])).toEqual([
      ["faults/junk.mp4", expect.stringContaining("not an MP4/MOV video: the content looks like text")],
    ]);

    // The killed worker's temporary folders were swept by its replacement; no video's left by anyone.
    const current = await functionWorkers();
    const leftovers = [victim, ...current].flatMap((pid) =>
      pid === victim ? foldersOf(tmpdir(), pid) : videoFolders(tmpdir(), pid),
    );
    expect(leftovers).toEqual([]);
  }, 420_000);
});
