// The jobs table in DynamoDB (items: dynamo-items.ts; creation: dynamo-table.ts). Every state
// change is a conditional write, so replicas never both hold a job and a replica that lost its
// claim cannot overwrite the new holder's outcome (the claim token is a fencing token).
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  paginatedBatchGet,
  paginateQuery,
  paginateScan,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import {
  type Change,
  clip,
  isConditionFailed,
  iso,
  type Item,
  keyOf,
  toJob,
  updateOf,
  videoKeyOf,
} from "./dynamo-items.js";
import { ensureJobsTable } from "./dynamo-table.js";
import { type Claim, type Job, jobIdOf, type SeenLease, type VideoRef } from "./job.js";
import type { ClaimResult, Final, JobStore, Later, Outcome } from "./store.js";

export { videoKeyOf } from "./dynamo-items.js";

const BATCH_GET_LIMIT = 100;

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  ensureTable(): Promise<void> {
    // The document client sends plain commands too.
    return ensureJobsTable(this.doc as unknown as DynamoDBClient, this.table);
  }

  async get(ref: VideoRef): Promise<Job | undefined> {
    const got = await this.doc.send(new GetCommand({ TableName: this.table, Key: keyOf(ref), ConsistentRead: true }));
    return got.Item ? toJob(got.Item) : undefined;
  }

  async getMany(refs: readonly VideoRef[]): Promise<Map<string, Job>> {
    const found = new Map<string, Job>();
    const all = [...new Map(refs.map((ref) => [jobIdOf(ref), ref])).values()];
    for (let start = 0; start < all.length; start += BATCH_GET_LIMIT) {
      const keys = all.slice(start, start + BATCH_GET_LIMIT).map(keyOf);
      // The paginator asks again for the keys a throttled request left unprocessed.
      const pages = paginatedBatchGet(
        { client: this.doc },
        { RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } },
      );
      for await (const page of pages) {
        for (const item of page.Responses?.[this.table] ?? []) {
          const job = toJob(item);
          found.set(job.jobId, job);
        }
      }
    }
    return found;
  }

  async claim(ref: VideoRef, owner: string, now: number, leaseMs: number, takeover?: SeenLease): Promise<ClaimResult> {
    const token = randomUUID();
    const names: Record<string, string> = {
      "#video": "video",
      "#status": "status",
      "#owner": "owner",
      "#token": "claimToken",
      "#version": "leaseVersion",
      "#leaseMs": "leaseMs",
      "#attempts": "attempts",
      "#bucket": "bucket",
      "#key": "key",
      "#etag": "etag",
      "#modified": "modified",
      "#jobId": "jobId",
      "#createdAt": "createdAt",
      "#updatedAt": "updatedAt",
      "#lastAttemptAt": "lastAttemptAt",
      "#next": "nextAttemptAt",
      "#callId": "callId",
    };
    const values: Record<string, unknown> = {
      ":running": "running",
      ":pending": "pending",
      ":owner": owner,
      ":token": token,
      ":leaseMs": leaseMs,
      ":zero": 0,
      ":one": 1,
      ":bucket": ref.bucket,
      ":key": ref.key,
      ":etag": ref.etag,
      ":modified": ref.modified ?? "",
      ":jobId": jobIdOf(ref),
      ":nowIso": iso(now),
      ":now": now,
    };
    let condition =
      "attribute_not_exists(#video) OR (#status = :pending AND (attribute_not_exists(#next) OR #next <= :now))";
    if (takeover) {
      // Only the very lease this replica saw unchanged for its duration: a renewal since wins.
      condition += " OR (#status = :running AND #token = :seenToken AND #version = :seenVersion)";
      values[":seenToken"] = takeover.token;
      values[":seenVersion"] = takeover.version;
    }
    try {
      const updated = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keyOf(ref),
          UpdateExpression:
            "SET #status = :running, #owner = :owner, #token = :token, #version = :zero, #leaseMs = :leaseMs, " +
            "#attempts = if_not_exists(#attempts, :zero) + :one, #bucket = :bucket, #key = :key, #etag = :etag, " +
            "#modified = :modified, #jobId = :jobId, #createdAt = if_not_exists(#createdAt, :nowIso), " +
            "#updatedAt = :nowIso, #lastAttemptAt = :nowIso REMOVE #next, #callId",
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return { claimed: true, claim: { job: toJob(updated.Attributes ?? {}), token } };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      // Read who holds it rather than guess: the caller may need its retry time or its lease.
      return { claimed: false, job: await this.get(ref) };
    }
  }

  /** A write that applies only while `claim` is still the current claim of a running job. */
  private whileHeld(claim: Claim, change: Change): Promise<boolean> {
    return this.conditional(
      updateOf(this.table, claim.job, change, {
        expression: "#status = :running AND #token = :heldToken",
        names: { "#status": "status", "#token": "claimToken" },
        values: { ":running": "running", ":heldToken": claim.token },
      }),
    );
  }

  /** Runs a conditional update: false when its condition did not hold. */
  private async conditional(input: UpdateCommandInput): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand(input));
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  finish(claim: Claim, outcome: Outcome & Final): Promise<boolean> {
    const remove = ["claimToken", "leaseMs", "nextAttemptAt"];
    if (outcome.statusCode === undefined) remove.push("lastStatusCode");
    if (outcome.status === "succeeded") remove.push("lastError");
    return this.whileHeld(claim, {
      set: {
        status: outcome.status,
        updatedAt: iso(outcome.now),
        finishedAt: iso(outcome.now),
        lastStatusCode: outcome.statusCode,
        ...(outcome.status === "succeeded"
          ? { result: outcome.result === undefined ? undefined : clip(outcome.result) }
          : { lastError: clip(outcome.reason) }),
      },
      remove,
    });
  }

  later(claim: Claim, outcome: Outcome & Later): Promise<boolean> {
    return this.whileHeld(claim, {
      set: {
        status: "pending",
        updatedAt: iso(outcome.now),
        nextAttemptAt: outcome.nextAttemptAt,
        lastStatusCode: outcome.statusCode,
        lastError: clip(outcome.reason),
      },
      remove:
        outcome.statusCode === undefined ? ["claimToken", "leaseMs", "lastStatusCode"] : ["claimToken", "leaseMs"],
      // A busy function never started the work: the attempt the claim counted is given back.
      add: outcome.busy ? { attempts: -1, busyAnswers: 1 } : {},
    });
  }

  renew(claim: Claim, outcome: Outcome & { leaseMs?: number }): Promise<boolean> {
    return this.whileHeld(claim, {
      set: { updatedAt: iso(outcome.now), leaseMs: outcome.leaseMs },
      add: { leaseVersion: 1 },
    });
  }

  accepted(claim: Claim, outcome: Outcome & { callId?: string; leaseMs: number }): Promise<boolean> {
    return this.whileHeld(claim, {
      set: {
        updatedAt: iso(outcome.now),
        leaseMs: outcome.leaseMs,
        callId: outcome.callId,
        lastStatusCode: outcome.statusCode,
      },
      add: { leaseVersion: 1 },
    });
  }

  release(claim: Claim, outcome: Outcome): Promise<boolean> {
    return this.whileHeld(claim, {
      set: { status: "pending", updatedAt: iso(outcome.now), nextAttemptAt: outcome.now },
      remove: ["claimToken", "leaseMs"],
      add: { attempts: -1 },
    });
  }

  requeue(ref: VideoRef, now: number): Promise<boolean> {
    return this.conditional(
      updateOf(
        this.table,
        ref,
        { set: { status: "pending", attempts: 0, nextAttemptAt: now, updatedAt: iso(now) }, remove: ["finishedAt"] },
        { expression: "#status = :failed", names: { "#status": "status" }, values: { ":failed": "failed" } },
      ),
    );
  }

  async findByKey(bucket: string, key: string): Promise<Job[]> {
    const jobs: Job[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.table,
        KeyConditionExpression: "#video = :video",
        ExpressionAttributeNames: { "#video": "video" },
        ExpressionAttributeValues: { ":video": videoKeyOf({ bucket, key }) },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) jobs.push(...((page.Items ?? []) as Item[]).map(toJob));
    return jobs;
  }

  async list(): Promise<Job[]> {
    const jobs: Job[] = [];
    for await (const page of paginateScan({ client: this.doc }, { TableName: this.table })) {
      jobs.push(...((page.Items ?? []) as Item[]).map(toJob));
    }
    return jobs;
  }
}
