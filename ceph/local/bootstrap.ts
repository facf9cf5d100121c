// Making a one-node cluster from nothing: the mon's map and store, the osd, radosgw, the S3 user
// and the buckets. Recipe and measurements: docs/ceph-local.md in the shared docs.
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { spawnDetached } from "../../lib/daemon.js";
import type { Logger } from "../../lib/log.js";
import { httpStatus, portIsFree } from "../../lib/net.js";
import { run } from "../../lib/process.js";
import { poll } from "../../lib/wait.js";
import { cephPaths, DAEMONS, monAddrs, renderCephConf, renderKeyring } from "./config.js";
import { type ClusterState, writeState } from "./state.js";

const CEPH_TIMEOUT_S = 10;

export interface BootstrapOptions {
  /** Cap of the in-memory object store (objects live in RAM). */
  memstoreBytes?: number;
  logger?: Logger;
}

/** Starts mon, osd and radosgw in dataDir, then the user and buckets; cluster.json says ready last. */
export async function bootstrap(dataDir: string, state: ClusterState, options: BootstrapOptions, deadline: number) {
  const p = cephPaths(dataDir);
  const { ports } = state;
  const left = () => Math.max(1000, deadline - Date.now());
  const t0 = Date.now();
  const step = (msg: string) => options.logger?.debug(`ceph: ${msg}`, { ms: Date.now() - t0 });
  for (const port of [ports.monV2, ports.monV1, ports.rgw]) {
    if (!(await portIsFree(port))) throw new Error(`port ${port} on 127.0.0.1 is in use (another cluster?)`);
  }
  for (const dir of [p.run, p.log, p.crash, p.monData, p.osdData, p.rgwData]) mkdirSync(dir, { recursive: true });
  // The state file goes first: it marks the dir as ours, so stopCeph may wipe it if we fail.
  writeState(dataDir, { ...state, ready: false });
  const fsid = randomUUID();
  writeFileSync(
    p.conf,
    renderCephConf({ dataDir, fsid, ports, memstoreBytes: options.memstoreBytes ?? 4 * 1024 ** 3 }),
  );
  writeFileSync(p.keyring, renderKeyring(), { mode: 0o600 });

  const conf = ["-c", p.conf];
  const daemon = (name: string, command: string, args: string[]) =>
    spawnDetached(command, ["-f", ...conf, ...args], {
      marker: dataDir,
      logFile: p.outFile(name),
      pidFile: p.pidFile(name),
    });

  await run("monmaptool", ["--create", "--clobber", "--fsid", fsid, "--addv", "a", monAddrs(ports), p.monmap], {
    timeoutMs: 10_000,
  });
  await run("ceph-mon", [...conf, "--mkfs", "-i", "a", "--monmap", p.monmap, "--keyring", p.keyring], {
    timeoutMs: 20_000,
  });
  step("mon created");
  await daemon(DAEMONS.mon, "ceph-mon", ["-i", "a"]);
  // `osd new` is the first command the mon must answer: with --connect-timeout it is also the wait
  // for the mon (a separate `ceph mon stat` costs another 0.3 s of Python start-up).
  const osdUuid = randomUUID();
  await ceph(p.conf, ["osd", "new", osdUuid, "0"], left());
  step("mon up, osd registered");
  await run("ceph-osd", [...conf, "-i", "0", "--mkfs", "--osd-uuid", osdUuid], { timeoutMs: 20_000 });
  await daemon(DAEMONS.osd, "ceph-osd", ["-i", "0"]);
  step("osd started");
  // radosgw starts while the osd boots: its first requests simply wait for the placement groups,
  // which saves the time of a serial wait. The osd check still runs, for a clear error if it fails.
  await daemon(DAEMONS.rgw, "radosgw", ["-n", DAEMONS.rgw]);
  await poll(
    "the osd to be up",
    async () => {
      const stat = JSON.parse(await ceph(p.conf, ["osd", "stat", "-f", "json"], 5000)) as { num_up_osds?: number };
      return stat.num_up_osds === 1 ? true : undefined;
    },
    left(),
    100,
  );
  step("osd up");
  await poll("radosgw to answer", async () => ((await httpStatus(state.endpoint)) === 200 ? true : undefined), left());
  step("rgw up");
  await run(
    "radosgw-admin",
    [
      ...conf,
      "user",
      "create",
      "--uid",
      state.userId,
      "--display-name",
      "local stack user",
      "--access-key",
      state.accessKey,
      "--secret-key",
      state.secretKey,
    ],
    { timeoutMs: left() },
  );
  step("user created");
  await createBuckets(state, state.buckets);
  step("buckets created");
  writeState(dataDir, state);
}

/** The `ceph` CLI hangs forever without a mon: always with --connect-timeout, and killed after that. */
async function ceph(conf: string, args: string[], timeoutMs: number): Promise<string> {
  const seconds = Math.max(1, Math.min(CEPH_TIMEOUT_S, Math.floor(timeoutMs / 1000)));
  const { stdout } = await run("ceph", ["-c", conf, "--connect-timeout", String(seconds), ...args], {
    timeoutMs: seconds * 1000 + 5000,
  });
  return stdout;
}

/** Creates the buckets on the cluster's S3 endpoint; one that exists already is no error. */
export async function createBuckets(state: ClusterState, buckets: string[]): Promise<void> {
  if (buckets.length === 0) return;
  // The AWS SDK takes a second to load on a busy machine: only when there are buckets to make.
  const [{ BucketAlreadyOwnedByYou, CreateBucketCommand }, { createS3Client }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("../../lib/s3.js"),
  ]);
  const s3 = createS3Client({
    endpoint: state.endpoint,
    region: "us-east-1",
    accessKeyId: state.accessKey,
    secretAccessKey: state.secretKey,
  });
  try {
    await Promise.all(
      buckets.map(async (bucket) => {
        try {
          await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        } catch (error) {
          if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
        }
      }),
    );
  } finally {
    s3.destroy();
  }
}
