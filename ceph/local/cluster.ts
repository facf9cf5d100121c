// A real one-node Ceph cluster (mon + osd on memstore + radosgw) on 127.0.0.1, for the local stack
// and the tests: a real S3 endpoint with Ceph's own behaviour (bucket notifications included).
// Recipe and measurements: docs/ceph-local.md in the shared docs. Daemons run detached, so the
// process that started them may exit; everything (conf, keys, pids, logs) lives in one data dir.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { isOurProcess, readPidFile, stopPidFile, tail } from "../../lib/daemon.js";
import type { Logger } from "../../lib/log.js";
import { httpStatus } from "../../lib/net.js";
import { bootstrap, createBuckets } from "./bootstrap.js";
import { type CephPorts, cephPaths, DAEMONS } from "./config.js";
import { type ClusterState, readState, sameCluster, writeState } from "./state.js";

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
    await stopPidFile(`${p.run}/${file}`, dataDir, options.graceMs ?? 10_000);
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

function result(dataDir: string, state: ClusterState, reused: boolean): CephCluster {
  const { endpoint, ports, accessKey, secretKey, buckets } = state;
  return { dataDir, endpoint, ports, accessKey, secretKey, buckets, reused };
}
