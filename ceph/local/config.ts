// The files of a one-node Ceph cluster (mon a, osd 0 on memstore, rgw a), everything under one data
// dir and on 127.0.0.1, following docs/ceph-local.md of the shared docs. Pure: no I/O here.
import { randomBytes } from "node:crypto";
import { join } from "node:path";

export interface CephPorts {
  /** msgr2 port of the mon (Ceph's default 3300). */
  monV2: number;
  /** legacy msgr1 port of the mon (Ceph's default 6789). */
  monV1: number;
  /** S3 endpoint (radosgw beast frontend). */
  rgw: number;
  /** The range the OSD binds its ports in; give each cluster its own so they never meet. */
  msBindMin: number;
  msBindMax: number;
}

export interface CephConfOptions {
  dataDir: string;
  fsid: string;
  ports: CephPorts;
  memstoreBytes: number;
}

/** Daemon names as Ceph spells them; pid files are `run/<name>.pid`, logs `log/<name>.log`. */
export const DAEMONS = { mon: "mon.a", osd: "osd.0", rgw: "client.rgw.a" } as const;

export function cephPaths(dataDir: string) {
  return {
    conf: join(dataDir, "ceph.conf"),
    keyring: join(dataDir, "keyring"),
    monmap: join(dataDir, "monmap"),
    run: join(dataDir, "run"),
    log: join(dataDir, "log"),
    crash: join(dataDir, "crash"),
    monData: join(dataDir, "mon", "ceph-a"),
    osdData: join(dataDir, "osd", "ceph-0"),
    rgwData: join(dataDir, "rgw", "ceph-a"),
    state: join(dataDir, "cluster.json"),
    pidFile: (daemon: string) => join(dataDir, "run", `${daemon}.pid`),
    logFile: (daemon: string) => join(dataDir, "log", `${daemon}.log`),
    /** stdout/stderr of a daemon: what it prints before its log file is open. */
    outFile: (daemon: string) => join(dataDir, "log", `${daemon}.out`),
  };
}

export function monAddrs(ports: Pick<CephPorts, "monV2" | "monV1">): string {
  return `[v2:127.0.0.1:${ports.monV2},v1:127.0.0.1:${ports.monV1}]`;
}

export function renderCephConf({ dataDir, fsid, ports, memstoreBytes }: CephConfOptions): string {
  const p = cephPaths(dataDir);
  // Daemon-only settings (pid file, log file) stay out of [global] so that the `ceph` and
  // `radosgw-admin` CLIs, run concurrently, do not write them too.
  const daemon = (name: string) => [`pid file = ${p.pidFile(name)}`, `log file = ${p.logFile(name)}`];
  const lines = [
    "[global]",
    `fsid = ${fsid}`,
    `mon host = ${monAddrs(ports)}`,
    "public addr = 127.0.0.1",
    "cluster addr = 127.0.0.1",
    `ms bind port min = ${ports.msBindMin}`,
    `ms bind port max = ${ports.msBindMax}`,
    "auth cluster required = cephx",
    "auth service required = cephx",
    "auth client required = cephx",
    "auth allow insecure global id reclaim = false",
    `keyring = ${p.keyring}`,
    `run dir = ${p.run}`,
    `crash dir = ${p.crash}`,
    // One OSD: pools of size 1, failure domain "osd", no warnings about the lack of redundancy.
    "osd pool default size = 1",
    "osd pool default min size = 1",
    "osd pool default pg num = 8",
    "osd pool default pgp num = 8",
    "osd pool default pg autoscale mode = off",
    "osd crush chooseleaf type = 0",
    "mon allow pool size one = true",
    "mon warn on pool no redundancy = false",
    "mon max pg per osd = 1000",
    // A nearly full disk must not stop a throwaway mon.
    "mon data avail warn = 2",
    "mon data avail crit = 1",
    // The key speed-up: every pool and user creation waits one paxos round (1 s by default).
    "paxos propose interval = 0.1",
    `mon cluster log file = ${p.logFile("cluster")}`,
    "",
    "[mon]",
    `mon data = ${join(dataDir, "mon", "ceph-$id")}`,
    ...daemon("$name"),
    "",
    "[osd]",
    `osd data = ${join(dataDir, "osd", "ceph-$id")}`,
    "osd objectstore = memstore",
    `memstore device bytes = ${memstoreBytes}`,
    ...daemon("$name"),
    "",
    `[${DAEMONS.rgw}]`,
    `rgw frontends = beast endpoint=127.0.0.1:${ports.rgw}`,
    `rgw data = ${p.rgwData}`,
    // The default of 512 threads costs memory and start time for nothing here.
    "rgw thread pool size = 64",
    "client mount timeout = 30",
    ...daemon("$name"),
    "",
  ];
  return lines.join("\n");
}

/**
 * A cephx secret as Ceph prints it: base64 of {u16 type = 1 (AES), u32 sec, u32 nsec, u16 len = 16,
 * 16 random bytes}, little-endian. Made here rather than with four `ceph-authtool` runs.
 */
export function makeCephKey(now = new Date()): string {
  const key = Buffer.alloc(28);
  key.writeUInt16LE(1, 0);
  key.writeUInt32LE(Math.floor(now.getTime() / 1000), 2);
  key.writeUInt32LE((now.getTime() % 1000) * 1_000_000, 6);
  key.writeUInt16LE(16, 10);
  randomBytes(16).copy(key, 12);
  return key.toString("base64");
}

/** One keyring for everything: the mon imports all of these entities (with caps) at mkfs. */
export function renderKeyring(): string {
  const entities: [string, Record<string, string>][] = [
    ["mon.", { mon: "allow *" }],
    ["client.admin", { mon: "allow *", osd: "allow *", mds: "allow *", mgr: "allow *" }],
    [DAEMONS.osd, { mon: "allow profile osd", mgr: "allow profile osd", osd: "allow *" }],
    [DAEMONS.rgw, { mon: "allow rw", osd: "allow rwx" }],
  ];
  return entities
    .map(([name, caps]) =>
      [
        `[${name}]`,
        `\tkey = ${makeCephKey()}`,
        ...Object.entries(caps).map(([service, cap]) => `\tcaps ${service} = "${cap}"`),
      ].join("\n"),
    )
    .join("\n")
    .concat("\n"); // Ceph's parser rejects a keyring without a final newline
}
