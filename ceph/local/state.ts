// cluster.json in the data dir: the identity of the running cluster (ports, keys, buckets), to
// decide whether a start reuses it or starts afresh.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type CephPorts, cephPaths } from "./config.js";

/** What cluster.json records: the identity of the running cluster, to decide reuse or restart. */
export interface ClusterState {
  ready: boolean;
  endpoint: string;
  ports: CephPorts;
  accessKey: string;
  secretKey: string;
  userId: string;
  buckets: string[];
}

export function sameCluster(a: ClusterState, b: ClusterState): boolean {
  return (
    a.endpoint === b.endpoint &&
    a.accessKey === b.accessKey &&
    a.secretKey === b.secretKey &&
    a.userId === b.userId &&
    JSON.stringify(a.ports) === JSON.stringify(b.ports)
  );
}

export function readState(dataDir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(cephPaths(dataDir).state, "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

export function writeState(dataDir: string, state: ClusterState): void {
  const file = cephPaths(dataDir).state;
  mkdirSync(dirname(file), { recursive: true });
  // Holds the S3 secret: readable by the owner only.
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  // The mode applies only when the file is created: one left by an older run is made private too.
  chmodSync(file, 0o600);
}
