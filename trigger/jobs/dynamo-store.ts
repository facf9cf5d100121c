// The jobs table in DynamoDB. Partition key `video` ("<bucket>/<key>"), sort key `etag`: one item
// per upload, and one Query finds every upload of a key. Every state change is a conditional
// write, so replicas never both hold a job and a replica that lost its claim cannot overwrite
// the new holder's outcome (the claim token is a fencing token).
import { randomUUID } from "node:crypto";
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { type Claim, type Job, jobIdOf, type VideoRef } from "./job.js";
import type { ClaimResult, JobStore, Outcome } from "./store.js";

type Item = Record<string, unknown>;

const BATCH_GET_LIMIT = 100;
// DynamoDB's item limit is 400 KB; a result or error this long is already more than a log needs.
const MAX_TEXT = 2000;

export function videoKeyOf(ref: Pick<VideoRef, "bucket" | "key">): string {
  return `${ref.bucket}/${ref.key}`;
}

/** Key attributes may not be empty strings; an object without an ETag is stored under "-". */
const etagKey = (etag: string) => etag || "-";

const clip = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text);
const iso = (ms: number) => new Date(ms).toISOString();

export function isConditionFailed(error: unknown): boolean {
  return (error as { name?: string })?.name === "ConditionalCheckFailedException";
}

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  async ensureTable(): Promise<void> {
    const client = this.doc as unknown as DynamoDBClient; // the document client sends plain commands too
    try {
      await this.waitActive(client);
      return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    try {
      await client.send(
        new CreateTableCommand({
          TableName: this.table,
          AttributeDefinitions: [
            { AttributeName: "video", AttributeType: "S" },
            { AttributeName: "etag", AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "video", KeyType: "HASH" },
            { AttributeName: "etag", KeyType: "RANGE" },
          ],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
    } catch (error) {
      // Another replica created it at the same moment.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await this.waitActive(client);
  }

  private async waitActive(client: DynamoDBClient, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const described = await client.send(new DescribeTableCommand({ TableName: this.table }));
      if (described.Table?.TableStatus === "ACTIVE") return;
      if (Date.now() > deadline) throw new Error(`table ${this.table} is not ACTIVE after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private keyOf(ref: VideoRef): Item {
    return { video: videoKeyOf(ref), etag: etagKey(ref.etag) };
  }

  async get(ref: VideoRef): Promise<Job | undefined> {
    const got = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: this.keyOf(ref), ConsistentRead: true }),
    );
    return got.Item ? toJob(got.Item) : undefined;
  }

  async getMany(refs: readonly VideoRef[]): Promise<Map<string, Job>> {
    const found = new Map<string, Job>();
    const unique = new Map(refs.map((ref) => [jobIdOf(ref), ref]));
    const all = [...unique.values()];
    for (let start = 0; start < all.length; start += BATCH_GET_LIMIT) {
      let keys: Item[] | undefined = all.slice(start, start + BATCH_GET_LIMIT).map((ref) => this.keyOf(ref));
      for (let round = 0; keys && keys.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** round)));
        const got = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of got.Responses?.[this.table] ?? []) {
          const job = toJob(item);
          found.set(job.jobId, job);
        }
        // Throttled keys come back unprocessed: ask again with backoff.
        keys = got.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined;
      }
    }
    return found;
  }

  async claim(ref: VideoRef, owner: string, now: number, leaseMs: number): Promise<ClaimResult> {
    const token = randomUUID();
    try {
      const updated = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.keyOf(ref),
          UpdateExpression:
            "SET #status = :running, #owner = :owner, #token = :token, #expires = :expires, " +
            "#attempts = if_not_exists(#attempts, :zero) + :one, #bucket = :bucket, #key = :key, #jobId = :jobId, " +
            "#createdAt = if_not_exists(#createdAt, :nowIso), #updatedAt = :nowIso, #lastAttemptAt = :nowIso " +
            "REMOVE #next, #callId",
          ConditionExpression:
            "attribute_not_exists(#video) " +
            "OR (#status = :pending AND (attribute_not_exists(#next) OR #next <= :now)) " +
            "OR (#status = :running AND #expires < :now)",
          ExpressionAttributeNames: {
            "#video": "video",
            "#status": "status",
            "#owner": "owner",
            "#token": "claimToken",
            "#expires": "claimExpiresAt",
            "#attempts": "attempts",
            "#bucket": "bucket",
            "#key": "key",
            "#jobId": "jobId",
            "#createdAt": "createdAt",
            "#updatedAt": "updatedAt",
            "#lastAttemptAt": "lastAttemptAt",
            "#next": "nextAttemptAt",
            "#callId": "callId",
          },
          ExpressionAttributeValues: {
            ":running": "running",
            ":pending": "pending",
            ":owner": owner,
            ":token": token,
            ":expires": now + leaseMs,
            ":zero": 0,
            ":one": 1,
            ":bucket": ref.bucket,
            ":key": ref.key,
            ":jobId": jobIdOf(ref),
            ":nowIso": iso(now),
            ":now": now,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return { claimed: true, claim: { job: toJob(updated.Attributes ?? {}), token } };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      // Read who holds it rather than guess: the caller may need its retry time.
      return { claimed: false, job: await this.get(ref) };
    }
  }

  /** A write that applies only while `claim` is still the current claim of a running job. */
  private async whileHeld(
    claim: Claim,
    set: Record<string, unknown>,
    remove: string[],
    add: Record<string, number> = {},
  ): Promise<boolean> {
    const names: Record<string, string> = { "#status": "status", "#token": "claimToken" };
    const values: Record<string, unknown> = { ":running": "running", ":heldToken": claim.token };
    const assignments: string[] = [];
    let n = 0;
    for (const [attribute, value] of Object.entries(set)) {
      if (value === undefined) continue;
      n++;
      names[`#a${n}`] = attribute;
      values[`:v${n}`] = value;
      assignments.push(`#a${n} = :v${n}`);
    }
    const removals = remove.map((attribute, i) => {
      names[`#r${i}`] = attribute;
      return `#r${i}`;
    });
    const additions = Object.entries(add).map(([attribute, by], i) => {
      names[`#d${i}`] = attribute;
      values[`:d${i}`] = by;
      return `#d${i} :d${i}`;
    });
    const input: UpdateCommandInput = {
      TableName: this.table,
      Key: this.keyOf(claim.job),
      UpdateExpression:
        `SET ${assignments.join(", ")}` +
        (removals.length ? ` REMOVE ${removals.join(", ")}` : "") +
        (additions.length ? ` ADD ${additions.join(", ")}` : ""),
      ConditionExpression: "#status = :running AND #token = :heldToken",
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    try {
      await this.doc.send(new UpdateCommand(input));
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  succeed(claim: Claim, outcome: Outcome & { result?: string }): Promise<boolean> {
    return this.whileHeld(
      claim,
      {
        status: "succeeded",
        updatedAt: iso(outcome.now),
        finishedAt: iso(outcome.now),
        lastStatusCode: outcome.statusCode,
        result: outcome.result === undefined ? undefined : clip(outcome.result),
      },
      ["claimExpiresAt", "claimToken", "nextAttemptAt", "lastError"],
    );
  }

  fail(claim: Claim, outcome: Outcome & { reason: string }): Promise<boolean> {
    return this.whileHeld(
      claim,
      {
        status: "failed",
        updatedAt: iso(outcome.now),
        finishedAt: iso(outcome.now),
        lastStatusCode: outcome.statusCode,
        lastError: clip(outcome.reason),
      },
      outcome.statusCode === undefined
        ? ["claimExpiresAt", "claimToken", "nextAttemptAt", "lastStatusCode"]
        : ["claimExpiresAt", "claimToken", "nextAttemptAt"],
    );
  }

  retryLater(claim: Claim, outcome: Outcome & { reason: string; nextAttemptAt: number }): Promise<boolean> {
    return this.whileHeld(
      claim,
      {
        status: "pending",
        updatedAt: iso(outcome.now),
        nextAttemptAt: outcome.nextAttemptAt,
        lastStatusCode: outcome.statusCode,
        lastError: clip(outcome.reason),
      },
      outcome.statusCode === undefined
        ? ["claimExpiresAt", "claimToken", "lastStatusCode"]
        : ["claimExpiresAt", "claimToken"],
    );
  }

  busy(claim: Claim, outcome: Outcome & { reason: string; nextAttemptAt: number }): Promise<boolean> {
    return this.whileHeld(
      claim,
      {
        status: "pending",
        updatedAt: iso(outcome.now),
        nextAttemptAt: outcome.nextAttemptAt,
        lastStatusCode: outcome.statusCode,
        lastError: clip(outcome.reason),
      },
      ["claimExpiresAt", "claimToken"],
      // The claim counted an attempt the function never started: give it back.
      { attempts: -1, busyAnswers: 1 },
    );
  }

  renew(claim: Claim, outcome: Outcome & { claimExpiresAt: number }): Promise<boolean> {
    return this.whileHeld(claim, { updatedAt: iso(outcome.now), claimExpiresAt: outcome.claimExpiresAt }, []);
  }

  accepted(claim: Claim, outcome: Outcome & { callId?: string; claimExpiresAt: number }): Promise<boolean> {
    return this.whileHeld(
      claim,
      {
        updatedAt: iso(outcome.now),
        claimExpiresAt: outcome.claimExpiresAt,
        callId: outcome.callId,
        lastStatusCode: outcome.statusCode,
      },
      [],
    );
  }

  async requeue(ref: VideoRef, now: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.keyOf(ref),
          UpdateExpression:
            "SET #status = :pending, #attempts = :zero, #next = :now, #updatedAt = :nowIso REMOVE #finishedAt",
          ConditionExpression: "#status = :failed",
          ExpressionAttributeNames: {
            "#status": "status",
            "#attempts": "attempts",
            "#next": "nextAttemptAt",
            "#updatedAt": "updatedAt",
            "#finishedAt": "finishedAt",
          },
          ExpressionAttributeValues: {
            ":pending": "pending",
            ":failed": "failed",
            ":zero": 0,
            ":now": now,
            ":nowIso": iso(now),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async findByKey(bucket: string, key: string): Promise<Job[]> {
    const jobs: Job[] = [];
    let start: Item | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "#video = :video",
          ExpressionAttributeNames: { "#video": "video" },
          ExpressionAttributeValues: { ":video": videoKeyOf({ bucket, key }) },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      jobs.push(...(page.Items ?? []).map(toJob));
      start = page.LastEvaluatedKey;
    } while (start);
    return jobs;
  }

  async list(): Promise<Job[]> {
    const jobs: Job[] = [];
    let start: Item | undefined;
    do {
      const page = await this.doc.send(new ScanCommand({ TableName: this.table, ExclusiveStartKey: start }));
      jobs.push(...(page.Items ?? []).map(toJob));
      start = page.LastEvaluatedKey;
    } while (start);
    return jobs;
  }
}

function toJob(item: Item): Job {
  const str = (name: string) => (typeof item[name] === "string" ? (item[name] as string) : undefined);
  const num = (name: string) => (typeof item[name] === "number" ? (item[name] as number) : undefined);
  const etag = str("etag") ?? "";
  const job: Job = {
    bucket: str("bucket") ?? "",
    key: str("key") ?? "",
    etag: etag === "-" ? "" : etag,
    jobId: str("jobId") ?? "",
    status: (str("status") as Job["status"]) ?? "pending",
    attempts: num("attempts") ?? 0,
    createdAt: str("createdAt") ?? "",
    updatedAt: str("updatedAt") ?? "",
  };
  const optional: Partial<Job> = {
    owner: str("owner"),
    claimToken: str("claimToken"),
    claimExpiresAt: num("claimExpiresAt"),
    nextAttemptAt: num("nextAttemptAt"),
    lastAttemptAt: str("lastAttemptAt"),
    finishedAt: str("finishedAt"),
    lastError: str("lastError"),
    lastStatusCode: num("lastStatusCode"),
    busyAnswers: num("busyAnswers"),
    result: str("result"),
    callId: str("callId"),
  };
  for (const [name, value] of Object.entries(optional)) {
    if (value !== undefined) (job as unknown as Record<string, unknown>)[name] = value;
  }
  return job;
}
