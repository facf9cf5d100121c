// The trigger's command line: `npm run trigger -- <command>`.
//   run                              the daemon (SIGTERM/SIGINT: drain and exit 0)
//   status [--state S] [--json]      jobs by state
//   retry <key> [--etag E]           re-queue a failed job (the newest upload of the key by default)
//   retry --all-failed               re-queue every failed job
//   setup-notifications              the Ceph topic and bucket notification pushing to this daemon
import { parseArgs } from "node:util";
import { setupBucketNotification } from "../lib/bucket-notifications.js";
import { ConfigError } from "../lib/config.js";
import { createDynamoClient } from "../lib/dynamo.js";
import { createLogger, describeError } from "../lib/log.js";
import { readTriggerSettings, type TriggerSettings } from "./config.js";
import { startDaemon } from "./daemon.js";
import { DynamoJobStore } from "./jobs/dynamo-store.js";
import { JOB_STATUSES, type Job, type JobStatus } from "./jobs/job.js";

const USAGE = `usage: npm run trigger -- <command>

  run                          start the daemon: poll the input bucket, accept Ceph notifications,
                               invoke the function for every new video
  status [--state S] [--json]  jobs by state (S: ${JOB_STATUSES.join(", ")})
  retry <key> [--etag E]       re-queue a failed job (the newest failed upload of the key by default)
  retry --all-failed           re-queue every failed job
  setup-notifications          create the Ceph topic and bucket notification that push to this daemon

Settings come from the environment (see trigger/config.ts).`;

function openStore(settings: TriggerSettings): DynamoJobStore {
  return new DynamoJobStore(createDynamoClient(settings.dynamo), settings.jobsTable);
}

async function run(settings: TriggerSettings): Promise<number> {
  const logger = createLogger("trigger", { base: { replica: settings.replicaId } });
  const daemon = await startDaemon(settings, { logger });
  return new Promise((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn("second signal: exiting now", { signal });
        resolve(1);
        return;
      }
      logger.info("signal received", { signal });
      daemon.stop().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error("shutdown failed", describeError(error));
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

const ago = (iso: string | undefined, now: number) => {
  if (!iso) return "";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  return seconds < 120 ? `${seconds}s ago` : seconds < 7200 ? `${Math.round(seconds / 60)}m ago` : iso;
};

function describeJob(job: Job, now: number): string {
  const parts = [
    `  ${job.key}`,
    `etag ${job.etag.slice(0, 12) || "-"}`,
    `uploaded ${job.modified || "?"}`,
    `attempts ${job.attempts}`,
  ];
  if (job.status === "running") {
    parts.push(`owner ${job.owner ?? "?"}`, `lease ${(job.leaseMs ?? 0) / 1000}s, renewed ${ago(job.updatedAt, now)}`);
  } else if (job.status === "pending") {
    parts.push(`next attempt in ${Math.max(0, Math.round(((job.nextAttemptAt ?? now) - now) / 1000))}s`);
  } else {
    parts.push(`finished ${ago(job.finishedAt ?? job.updatedAt, now)}`);
  }
  if (job.lastError && job.status !== "succeeded") parts.push(`error: ${job.lastError}`);
  return parts.join("  ");
}

async function status(settings: TriggerSettings, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { state: { type: "string" }, json: { type: "boolean", default: false } },
  });
  if (values.state !== undefined && !JOB_STATUSES.includes(values.state as JobStatus)) {
    console.error(`--state must be one of ${JOB_STATUSES.join(", ")}`);
    return 2;
  }
  const jobs = (await openStore(settings).list())
    .filter((job) => values.state === undefined || job.status === values.state)
    .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
  const byState = Object.fromEntries(JOB_STATUSES.map((s) => [s, jobs.filter((job) => job.status === s)]));
  if (values.json) {
    console.log(JSON.stringify({ table: settings.jobsTable, counts: countsOf(jobs), jobs: byState }, null, 2));
    return 0;
  }
  const now = Date.now();
  console.log(`jobs in ${settings.jobsTable}: ${jobs.length}`);
  for (const state of JOB_STATUSES) console.log(`  ${state.padEnd(10)} ${byState[state]?.length ?? 0}`);
  // Succeeded jobs are listed only when asked for: there are many and they need nothing.
  for (const state of values.state ? [values.state as JobStatus] : (["failed", "running", "pending"] as const)) {
    const list = byState[state] ?? [];
    if (list.length === 0) continue;
    console.log(`\n${state}:`);
    for (const job of list) console.log(describeJob(job, now));
  }
  return 0;
}

function countsOf(jobs: Job[]): Record<JobStatus, number> {
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const job of jobs) counts[job.status]++;
  return counts;
}

async function retry(settings: TriggerSettings, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { etag: { type: "string" }, "all-failed": { type: "boolean", default: false } },
  });
  const store = openStore(settings);
  const now = Date.now();
  let targets: Job[];
  if (values["all-failed"]) {
    targets = (await store.list()).filter((job) => job.status === "failed");
  } else {
    const key = positionals[0];
    if (!key || positionals.length > 1) {
      console.error("usage: trigger retry <key> [--etag E] | trigger retry --all-failed");
      return 2;
    }
    const failed = (await store.findByKey(settings.bucket, key))
      .filter((job) => job.status === "failed" && (values.etag === undefined || job.etag === values.etag))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (failed.length === 0) {
      console.error(`no failed job for ${settings.bucket}/${key}${values.etag ? ` with etag ${values.etag}` : ""}`);
      return 1;
    }
    targets = failed.slice(0, 1);
  }
  let requeued = 0;
  for (const job of targets) {
    if (await store.requeue(job, now)) {
      requeued++;
      console.log(`re-queued ${job.key} (etag ${job.etag}); a running daemon picks it up at its next poll`);
    }
  }
  if (values["all-failed"]) console.log(`re-queued ${requeued} of ${targets.length} failed jobs`);
  return requeued > 0 || targets.length === 0 ? 0 : 1;
}

async function setupNotifications(settings: TriggerSettings): Promise<number> {
  if (!settings.s3.endpoint) {
    console.error("setup-notifications needs S3_ENDPOINT: bucket notifications are set up on a Ceph RGW");
    return 2;
  }
  // The token travels in the push URL: Ceph sends no credentials of its own.
  const pushEndpoint = settings.notifyToken
    ? `${settings.notify.endpoint}${settings.notify.endpoint.includes("?") ? "&" : "?"}token=${encodeURIComponent(settings.notifyToken)}`
    : settings.notify.endpoint;
  const { topicArn } = await setupBucketNotification({
    endpoint: settings.s3.endpoint,
    region: settings.s3.region,
    accessKey: settings.s3.accessKeyId,
    secretKey: settings.s3.secretAccessKey,
    bucket: settings.bucket,
    topicName: settings.notify.topic,
    pushEndpoint,
    persistent: settings.notify.persistent,
    id: settings.notify.id,
    prefix: settings.prefix || undefined,
    // Ceph's suffix filter is case-sensitive: with a case-insensitive trigger, let every key through.
    suffix: settings.suffixCaseSensitive ? settings.suffix || undefined : undefined,
  });
  console.log(
    `bucket ${settings.bucket} notifies topic ${topicArn} (persistent=${settings.notify.persistent}) → ${settings.notify.endpoint}`,
  );
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const commands: Record<string, (settings: TriggerSettings, args: string[]) => Promise<number>> = {
    run: (settings) => run(settings),
    status,
    retry,
    "setup-notifications": (settings) => setupNotifications(settings),
  };
  const handler = commands[command];
  if (!handler) {
    console.error(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await handler(readTriggerSettings(process.env), args);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    createLogger("trigger").error(`${command} failed`, describeError(error));
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
