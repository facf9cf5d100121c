// Once per test run: a real Ceph RGW and a dynalite, on free ports (never the stack's defaults, so
// a running `npm run stack:up` and other people's test runs are not disturbed), in a fresh dir
// under the OS temp dir. The connection settings go to process.env before the test workers are
// forked, so every worker inherits them. Everything is stopped and removed at the end; what an
// interrupted run left behind is collected by the next run.
//
// FACEREC_TEST_SERVICES=all (default) | none | a list of ceph,dynamodb: start only what is listed
// (e.g. `none` for a quick run of pure unit tests: then the variables below stay unset).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCeph, stopCeph } from "../../ceph/local/cluster.js";
import { freePort, freePorts } from "../../lib/net.js";
import { startDynalite, stopDynalite } from "../../scripts/stack/dynalite.js";
import { isAlive } from "../../lib/process.js";

const PREFIX = "facerec-test-";
const REGION = "us-east-1";
// Obviously fake keys: the local RGW user and dynalite accept anything.
const S3_ACCESS_KEY = "facerec-test-s3-access";
const S3_SECRET_KEY = "facerec-test-s3-secret-not-real";
const DYNAMO_ACCESS_KEY = "facerec-test-dynamo-access";
const DYNAMO_SECRET_KEY = "facerec-test-dynamo-secret-not-real";

type Service = "ceph" | "dynamodb";

function selectedServices(value = "all"): Set<Service> {
  const words = value
    .split(",")
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  if (words.includes("all")) return new Set(["ceph", "dynamodb"]);
  const unknown = words.filter((w) => !["ceph", "dynamodb", "none"].includes(w));
  if (unknown.length > 0) throw new Error(`FACEREC_TEST_SERVICES: unknown service(s) ${unknown.join(", ")}`);
  return new Set(words.filter((w): w is Service => w === "ceph" || w === "dynamodb"));
}

const paths = (dir: string) => ({
  ceph: join(dir, "ceph"),
  dynalite: { pidFile: join(dir, "dynalite.pid"), logFile: join(dir, "dynalite.log"), marker: dir },
  owner: join(dir, "owner.pid"),
});

/** Stops and removes what runs whose owning vitest process is gone (killed, Ctrl-C'd twice...). */
async function collectStale(): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const p = paths(dir);
    const owner = existsSync(p.owner) ? Number(readFileSync(p.owner, "utf8")) : Number.NaN;
    if (!Number.isInteger(owner) || isAlive(owner)) continue;
    await stopDynalite(p.dynalite).catch(() => undefined);
    await stopCeph(p.ceph).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startTestCeph(dir: string) {
  for (let attempt = 1; ; attempt++) {
    // Our own ms bind range, away from Ceph's default 6800-7300 and the kernel's ephemeral ports.
    const msBindMin = 20_000 + Math.floor(Math.random() * 100) * 100;
    const msBindMax = msBindMin + 99;
    const ports = {
      ...(await freePorts(["monV2", "monV1", "rgw"], { min: msBindMin, max: msBindMax })),
      msBindMin,
      msBindMax,
    };
    try {
      return await startCeph({ dataDir: dir, ports, accessKey: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY });
    } catch (error) {
      // A free port can be taken between our check and the daemon's bind: try once more.
      if (attempt >= 2 || !/in use/.test((error as Error).message)) throw error;
    }
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  const services = selectedServices(process.env.FACEREC_TEST_SERVICES);
  await collectStale();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  const p = paths(dir);
  writeFileSync(p.owner, String(process.pid));

  const teardown = async () => {
    await Promise.all([stopDynalite(p.dynalite), stopCeph(p.ceph)]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const started = Date.now();
    const [ceph, dynamo] = await Promise.all([
      services.has("ceph") ? startTestCeph(p.ceph) : undefined,
      services.has("dynamodb") ? startDynalite({ port: await freePort(), ...p.dynalite }) : undefined,
    ]);
    const env: Record<string, string> = { AWS_REGION: REGION };
    if (ceph) {
      Object.assign(env, {
        S3_ENDPOINT: ceph.endpoint,
        S3_AWS_ACCESS_KEY_ID: ceph.accessKey,
        S3_AWS_SECRET_ACCESS_KEY: ceph.secretKey,
      });
    }
    if (dynamo) {
      Object.assign(env, {
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        AWS_ACCESS_KEY_ID: DYNAMO_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: DYNAMO_SECRET_KEY,
      });
    }
    Object.assign(process.env, env);
    if (services.size > 0) {
      const what = [ceph && `ceph ${ceph.endpoint}`, dynamo && `dynalite ${dynamo.endpoint}`].filter(Boolean);
      console.log(`test services up in ${Date.now() - started} ms: ${what.join(", ")}`);
    }
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
