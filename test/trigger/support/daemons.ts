// Daemons in the test's own process against the run's real Ceph RGW and dynalite (and the played
// function), and waits on what they write.
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll } from "vitest";
import { memoryLogger } from "../../../lib/log.js";
import { readTriggerSettings } from "../../../trigger/config.js";
import { type DaemonDeps, startDaemon } from "../../../trigger/daemon.js";
import type { Job } from "../../../trigger/jobs/job.js";
import type { JobStore } from "../../../trigger/jobs/store.js";
import { waitFor } from "../../support/wait.js";
import { FakeFunction } from "./fake-function.js";
import { dynamoStore, s3Client, triggerEnv, uniqueName } from "./services.js";

/** waitFor until fn returns something other than undefined or false; an error naming `what` after timeoutMs. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const found = (value: T | undefined): value is T => value !== undefined && value !== false;
  const value = await waitFor(fn, found, timeoutMs);
  if (!found(value)) throw new Error(`timed out waiting for ${what}`);
  return value;
}

/** The job of a key's newest upload (the table's sort key begins with the upload time). */
export async function newestJob(store: JobStore, bucket: string, key: string): Promise<Job | undefined> {
  return (await store.findByKey(bucket, key)).at(-1);
}

/** Starts daemons (each with a memory logger) and stops them all at the end. */
export class TestDaemons {
  private readonly running: { close(): Promise<unknown> }[] = [];

  track(thing: { close(): Promise<unknown> }): void {
    this.running.push(thing);
  }

  /** One daemon on bucket; `table` shares a jobs table between replicas (a fresh one by default). */
  async start(
    bucket: string,
    gatewayUrl: string,
    extra: Record<string, string> = {},
    deps: Omit<DaemonDeps, "logger"> = {},
    table = uniqueName("jobs"),
  ) {
    const logger = memoryLogger("trigger");
    const settings = readTriggerSettings(triggerEnv({ bucket, table, gatewayUrl, ...extra }));
    const daemon = await startDaemon(settings, { logger, ...deps });
    this.track({ close: () => daemon.stop() });
    return { daemon, logger, store: dynamoStore(table), settings, table };
  }

  async closeAll(): Promise<void> {
    for (const thing of this.running.splice(0).reverse()) await thing.close().catch(() => undefined);
  }
}

/**
 * For a test file: the played function and the daemons started against it, set up before the
 * file's tests and closed after them.
 */
export function withPlayedFunction() {
  const suite = { fn: new FakeFunction(), daemons: new TestDaemons(), url: "", s3: undefined as unknown as S3Client };
  beforeAll(async () => {
    suite.s3 = s3Client();
    suite.url = await suite.fn.start();
  });
  afterAll(async () => {
    await suite.daemons.closeAll();
    await suite.fn.close();
  });
  return suite;
}
