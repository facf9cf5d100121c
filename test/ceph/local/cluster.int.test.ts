// A cluster of its own (not global-setup's), on free ports: start, S3 round trip, bucket
// notification, idempotent start, repair of a half-up cluster, stop leaving nothing behind.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CephCluster, cephStatus, startCeph, stopCeph } from "../../../ceph/local/cluster.js";
import { setupBucketNotification } from "../../../lib/bucket-notifications.js";
import { isOurProcess } from "../../../lib/daemon.js";
import { freePort, freePorts } from "../../../lib/net.js";
import { createS3Client, putText } from "../../../lib/s3.js";
import { eventually, within } from "../../support/wait.js";

const root = mkdtempSync(join(tmpdir(), "ceph-cluster-test-"));
const dataDir = join(root, "ceph");
const keys = { accessKey: "cluster-test-access", secretKey: "cluster-test-secret-not-real" };
let ports: { monV2: number; monV1: number; rgw: number; msBindMin: number; msBindMax: number };
let cluster: CephCluster;

function s3For(c: CephCluster) {
  return createS3Client({
    endpoint: c.endpoint,
    region: "us-east-1",
    accessKeyId: c.accessKey,
    secretAccessKey: c.secretKey,
  });
}

beforeAll(async () => {
  const msBindMin = 30_000 + Math.floor(Math.random() * 20) * 100;
  const msBindMax = msBindMin + 99;
  ports = { ...(await freePorts(["monV2", "monV1", "rgw"], { min: msBindMin, max: msBindMax })), msBindMin, msBindMax };
  cluster = await startCeph({ dataDir, ports, ...keys, buckets: ["videos", "results"] });
});

afterAll(async () => {
  await stopCeph(dataDir);
  rmSync(root, { recursive: true, force: true });
});

describe("startCeph", () => {
  it("serves S3 with the user and buckets asked for", async () => {
    expect(cluster).toMatchObject({ endpoint: `http://127.0.0.1:${ports.rgw}`, reused: false, ports });
    const s3 = s3For(cluster);
    try {
      const body = Buffer.from([0, 1, 2, 255, 254]);
      await putText(s3, "videos", "dir/a b.txt", "hello ceph", "text/plain");
      await s3.send(new PutObjectCommand({ Bucket: "results", Key: "bin", Body: body }));
      const text = await s3.send(new GetObjectCommand({ Bucket: "videos", Key: "dir/a b.txt" }));
      expect(await text.Body?.transformToString()).toBe("hello ceph");
      const bin = await s3.send(new GetObjectCommand({ Bucket: "results", Key: "bin" }));
      expect(Buffer.from((await bin.Body?.transformToByteArray()) ?? [])).toEqual(body);
    } finally {
      s3.destroy();
    }
  });

  it("keeps everything in the data dir, daemons detached with their own logs", async () => {
    const status = await cephStatus(dataDir);
    expect(status).toMatchObject({ state: "up", s3Ready: true, endpoint: cluster.endpoint });
    for (const daemon of status.daemons) {
      expect(daemon.running).toBe(true);
      // Its own process group: a Ctrl-C of the starter does not reach it.
      const stat = readFileSync(`/proc/${daemon.pid}/stat`, "utf8");
      expect(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2])).toBe(daemon.pid);
      expect(existsSync(join(dataDir, "log", `${daemon.name}.log`))).toBe(true);
    }
  });

  it("returns at once when already up, adding missing buckets", async () => {
    const started = Date.now();
    const again = await startCeph({ dataDir, ports, ...keys, buckets: ["videos", "extra"] });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(again).toMatchObject({ reused: true, endpoint: cluster.endpoint });
    expect(again.buckets).toEqual(expect.arrayContaining(["videos", "results", "extra"]));
    const s3 = s3For(again);
    try {
      await putText(s3, "extra", "k", "v", "text/plain");
    } finally {
      s3.destroy();
    }
  });

  it("pushes bucket notifications for matching keys", async () => {
    const received: { eventName?: string; s3?: { object?: { key?: string } } }[] = [];
    let pushed = () => {};
    const firstPush = new Promise<void>((resolve) => {
      pushed = resolve;
    });
    const receiver: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        received.push(...((JSON.parse(body) as { Records?: [] }).Records ?? []));
        res.end("ok");
        pushed();
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => receiver.listen(port, "127.0.0.1", resolve));
    const s3 = s3For(cluster);
    try {
      const { topicArn } = await setupBucketNotification({
        endpoint: cluster.endpoint,
        ...keys,
        bucket: "videos",
        topicName: "cluster-test-topic",
        pushEndpoint: `http://127.0.0.1:${port}/notify`,
        suffix: ".mp4",
        // Synchronous delivery: a persistent topic's first push takes 18-24 s in Ceph 16.2.
        persistent: false,
      });
      expect(topicArn).toBe("arn:aws:sns:default::cluster-test-topic");
      await putText(s3, "videos", "skip.txt", "no", "text/plain");
      await putText(s3, "videos", "clip.mp4", "video", "video/mp4");
      await within(firstPush, 10_000, "the push of clip.mp4");
      expect(received.map((r) => r.s3?.object?.key)).toEqual(["clip.mp4"]);
      expect(received[0]?.eventName).toMatch(/ObjectCreated:Put$/);
    } finally {
      s3.destroy();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it("restarts a half-up cluster from scratch", async () => {
    const before = await cephStatus(dataDir);
    const rgw = before.daemons.find((d) => d.name === "client.rgw.a");
    if (!rgw?.pid) throw new Error("no rgw pid");
    process.kill(rgw.pid, "SIGKILL");
    expect(await eventually(() => !isOurProcess(rgw.pid as number, dataDir))).toBe(true);
    expect((await cephStatus(dataDir)).state).toBe("partial");

    cluster = await startCeph({ dataDir, ports, ...keys, buckets: ["videos"] });
    expect(cluster.reused).toBe(false);
    for (const old of before.daemons) expect(isOurProcess(old.pid ?? -1, dataDir)).toBe(false);
    expect((await cephStatus(dataDir)).state).toBe("up");
  });

  it("refuses to wipe a dir that is not a cluster's", async () => {
    await expect(stopCeph(root)).rejects.toThrow(/does not look like a local Ceph data dir/);
    expect(existsSync(dataDir)).toBe(true);
  });
});

describe("stopCeph", () => {
  it("stops every daemon and removes the data dir", async () => {
    const pids = (await cephStatus(dataDir)).daemons.map((d) => d.pid ?? -1);
    await stopCeph(dataDir);
    // Not alive (a zombie until this worker, their parent, reaps it, counts as gone).
    for (const pid of pids) expect(isOurProcess(pid, dataDir)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
    expect((await cephStatus(dataDir)).state).toBe("down");
  });
});
