// A real one-node Ceph cluster (mon + osd on memstore + radosgw) on 127.0.0.1, for the local stack
// and the tests: a real S3 endpoint with Ceph's own behaviour (bucket notifications included).
// Recipe and measurements: docs/ceph-local.md in the shared docs. Daemons run detached, so the
// process that started them may exit; everything (conf, keys, pids, logs) lives in one data dir.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Logger } from "../../lib/log.js";
import { type CephPorts, cephPaths, DAEMONS, monAddrs, renderCephConf, renderKeyring } from "./config.js";
import {
  httpStatus,
  isOurProcess,
  portIsFree,
  readPidFile,
  run,
  spawnDetached,
  tail,
  terminate,
  waitFor,
} from "./daemon.js";

import type { BucketNotificationOptions } from "./notifications.js";

export type { BucketNotificationOptions } from "./notifications.js";
export type { CephPorts } from "./config.js";

export const DEFAULT_CEPH_PORTS: CephPorts = { monV2: 3300, monV1: 6789, rgw: 7480, msBindMin: 6800, msBindMax: 7300 };

export interface StartCephOptions {
  dataDir: string;
  /** Missing ports take DEFAULT_CEPH_PORTS. */
  ports?: Partial<CephPorts>;
  /** The S3 user's keys (any strings; fixed fake values for local use). */
  accessKey: string;
  secretKey: string;
  /** Created when missing, also on an already running cluster. */
  buckets?: string[];
  userId?: string;
  /** Cap of the in-memory object store (objects live in RAM). */
  memstoreBytes?: number;
  /** Whole start, from nothing to "S3 ready". */
  timeoutMs?: number;
  logger?: Logger;
}

export interface CephCluster {
  dataDir: string;
  endpoint: string;
  ports: CephPorts;
  accessKey: string;
  secretKey: string;
  buckets: string[];
  /** True when startCeph found the cluster already running. */
  reused: boolean;
}

/** What cluster.json records: the identity of the running cluster, to decide reuse or restart. */
interface ClusterState {
  ready: boolean;
  endpoint: string;
  ports: CephPorts;
  accessKey: string;
  secretKey: string;
  userId: string;
  buckets: string[];
}

const CEPH_TIMEOUT_S = 10;
const DAEMON_ORDER = [DAEMONS.rgw, DAEMONS.osd, DAEMONS.mon];

/**
 * Starts the cluster, or returns at once when it already runs with the same ports and keys.
 * Anything else found in dataDir (half up, crashed, other ports) is stopped and wiped first.
 */
export async function startCeph(options: StartCephOptions): Promise<CephCluster> {
  const dataDir = resolve(options.dataDir);
  const ports: CephPorts = { ...DEFAULT_CEPH_PORTS, ...options.ports };
  const wanted: ClusterState = {
    ready: true,
    endpoint: `http://127.0.0.1:${ports.rgw}`,
    ports,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    userId: options.userId ?? "local",
    buckets: [...new Set(options.buckets ?? [])],
  };
  const log = options.logger;

  const state = readState(dataDir);
  if (state && sameCluster(state, wanted) && (await isUp(dataDir, state))) {
    const missing = wanted.buckets.filter((b) => !state.buckets.includes(b));
    if (missing.length > 0) {
      await createBuckets(wanted, missing);
      writeState(dataDir, { ...state, buckets: [...state.buckets, ...missing] });
    }
    log?.info("ceph already running", { dataDir, endpoint: state.endpoint });
    return result(dataDir, { ...wanted, buckets: [...new Set([...state.buckets, ...missing])] }, true);
  }
  if (existsSync(dataDir)) {
    log?.info("ceph in this data dir is half up, stale or set up differently: stopping and wiping it", { dataDir });
    await stopCeph(dataDir);
  }

  const started = Date.now();
  try {
    await bootstrap(dataDir, wanted, options, started + (options.timeoutMs ?? 60_000));
  } catch (error) {
    // Leave nothing half started behind; the logs go with the error message.
    const logs = [DAEMONS.mon, DAEMONS.osd, DAEMONS.rgw]
      .map((d) => [d, tail(cephPaths(dataDir).outFile(d), 5) || tail(cephPaths(dataDir).logFile(d), 5)])
      .filter(([, text]) => text)
      .map(([d, text]) => `--- ${d}:\n${text}`)
      .join("\n");
    await stopCeph(dataDir).catch(() => undefined);
    throw new Error(`ceph did not start in ${dataDir}: ${(error as Error).message}${logs ? `\n${logs}` : ""}`, {
      cause: error,
    });
  }
  log?.info("ceph started", { dataDir, endpoint: wanted.endpoint, ms: Date.now() - started });
  return result(dataDir, wanted, false);
}

async function bootstrap(dataDir: string, state: ClusterState, options: StartCephOptions, deadline: number) {
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
  await waitFor(
    "the osd to be up",
    async () => {
      const stat = JSON.parse(await ceph(p.conf, ["osd", "stat", "-f", "json"], 5000)) as { num_up_osds?: number };
      return stat.num_up_osds === 1 ? true : undefined;
    },
    left(),
    100,
  );
  step("osd up");
  await waitFor(
    "radosgw to answer",
    async () => ((await httpStatus(state.endpoint)) === 200 ? true : undefined),
    left(),
  );
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

/** See notifications.ts; loaded on demand, like the S3 SDK, to keep this module quick to import. */
export async function setupBucketNotification(options: BucketNotificationOptions): Promise<{ topicArn: string }> {
  return (await import("./notifications.js")).setupBucketNotification(options);
}

async function createBuckets(state: ClusterState, buckets: string[]): Promise<void> {
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

/**
 * Stops the daemons listed in dataDir/run/*.pid, one after another (rgw, osd, mon: stopping them
 * together hangs rgw), SIGKILL after 10 s each, then removes dataDir. A dir without our files is
 * left alone rather than deleted.
 */
export async function stopCeph(dataDirArg: string, options: { graceMs?: number } = {}): Promise<void> {
  const dataDir = resolve(dataDirArg);
  if (!existsSync(dataDir)) return;
  const p = cephPaths(dataDir);
  if (!existsSync(p.state) && readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} does not look like a local Ceph data dir (no cluster.json): not touching it`);
  }
  const pidFiles = existsSync(p.run) ? readdirSync(p.run).filter((f) => f.endsWith(".pid")) : [];
  const rank = (file: string) => {
    const i = DAEMON_ORDER.indexOf(file.replace(/\.pid$/, "") as (typeof DAEMON_ORDER)[number]);
    return i < 0 ? DAEMON_ORDER.length : i;
  };
  for (const file of pidFiles.sort((a, b) => rank(a) - rank(b))) {
    const pid = readPidFile(`${p.run}/${file}`);
    if (pid !== undefined) await terminate([pid], dataDir, options.graceMs ?? 10_000);
  }
  rmSync(dataDir, { recursive: true, force: true });
}

export interface CephDaemonStatus {
  name: string;
  pid?: number;
  running: boolean;
}

export interface CephStatus {
  dataDir: string;
  /** up: every daemon runs and S3 answers; partial: some of it; down: nothing runs. */
  state: "up" | "partial" | "down";
  endpoint?: string;
  ports?: CephPorts;
  s3Ready: boolean;
  daemons: CephDaemonStatus[];
}

export async function cephStatus(dataDirArg: string): Promise<CephStatus> {
  const dataDir = resolve(dataDirArg);
  const state = readState(dataDir);
  const daemons = daemonStatus(dataDir);
  const s3Ready = state ? (await httpStatus(state.endpoint)) === 200 : false;
  const running = daemons.filter((d) => d.running).length;
  const up = running === daemons.length && s3Ready && state?.ready === true;
  return {
    dataDir,
    state: up ? "up" : running > 0 || s3Ready ? "partial" : "down",
    endpoint: state?.endpoint,
    ports: state?.ports,
    s3Ready,
    daemons,
  };
}

function daemonStatus(dataDir: string): CephDaemonStatus[] {
  const p = cephPaths(dataDir);
  return [DAEMONS.mon, DAEMONS.osd, DAEMONS.rgw].map((name) => {
    const pid = readPidFile(p.pidFile(name));
    return { name, pid, running: pid !== undefined && isOurProcess(pid, dataDir) };
  });
}

async function isUp(dataDir: string, state: ClusterState): Promise<boolean> {
  return state.ready && daemonStatus(dataDir).every((d) => d.running) && (await httpStatus(state.endpoint)) === 200;
}

function sameCluster(a: ClusterState, b: ClusterState): boolean {
  return (
    a.endpoint === b.endpoint &&
    a.accessKey === b.accessKey &&
    a.secretKey === b.secretKey &&
    a.userId === b.userId &&
    JSON.stringify(a.ports) === JSON.stringify(b.ports)
  );
}

function readState(dataDir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(cephPaths(dataDir).state, "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

function writeState(dataDir: string, state: ClusterState): void {
  const file = cephPaths(dataDir).state;
  mkdirSync(dirname(file), { recursive: true });
  // Holds the S3 secret: readable by the owner only.
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

function result(dataDir: string, state: ClusterState, reused: boolean): CephCluster {
  const { endpoint, ports, accessKey, secretKey, buckets } = state;
  return { dataDir, endpoint, ports, accessKey, secretKey, buckets, reused };
}
