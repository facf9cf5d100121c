// How a job is stored as a DynamoDB item, and the expression builder for conditional updates.
// Partition key `video` ("<bucket>/<key>"), sort key `upload` ("<modified>#<etag>"): one item per
// upload, and one Query finds every upload of a key.
import type { UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import type { Job, VideoRef } from "./job.js";

export type Item = Record<string, unknown>;

// DynamoDB's item limit is 400 KB; a result or error this long is already more than a log needs.
const MAX_TEXT = 2000;

export const clip = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text);
export const iso = (ms: number) => new Date(ms).toISOString();

export function videoKeyOf(ref: Pick<VideoRef, "bucket" | "key">): string {
  return `${ref.bucket}/${ref.key}`;
}

/** The table's key of an upload; key attributes may not be empty, so unknown parts are "-". */
export function keyOf(ref: VideoRef): Item {
  return { video: videoKeyOf(ref), upload: `${ref.modified || "-"}#${ref.etag || "-"}` };
}

export function isConditionFailed(error: unknown): boolean {
  return (error as { name?: string })?.name === "ConditionalCheckFailedException";
}

export interface Change {
  /** Attributes to set; undefined values are skipped. */
  set?: Record<string, unknown>;
  remove?: string[];
  /** Numbers added to attributes (created at the amount when missing). */
  add?: Record<string, number>;
}

/** One UpdateExpression with placeholder names and values for `change`, and a condition. */
export function updateOf(
  table: string,
  ref: VideoRef,
  change: Change,
  condition: { expression: string; names: Record<string, string>; values: Record<string, unknown> },
): UpdateCommandInput {
  const names: Record<string, string> = { ...condition.names };
  const values: Record<string, unknown> = { ...condition.values };
  const placeholder = (prefix: string, attribute: string, i: number) => {
    names[`#${prefix}${i}`] = attribute;
    return `#${prefix}${i}`;
  };
  const sets = Object.entries(change.set ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([attribute, value], i) => {
      values[`:s${i}`] = value;
      return `${placeholder("s", attribute, i)} = :s${i}`;
    });
  const removals = (change.remove ?? []).map((attribute, i) => placeholder("r", attribute, i));
  const additions = Object.entries(change.add ?? {}).map(([attribute, by], i) => {
    values[`:a${i}`] = by;
    return `${placeholder("a", attribute, i)} :a${i}`;
  });
  const clauses = [
    sets.length ? `SET ${sets.join(", ")}` : "",
    removals.length ? `REMOVE ${removals.join(", ")}` : "",
    additions.length ? `ADD ${additions.join(", ")}` : "",
  ];
  return {
    TableName: table,
    Key: keyOf(ref),
    UpdateExpression: clauses.filter(Boolean).join(" "),
    ConditionExpression: condition.expression,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
  };
}

export function toJob(item: Item): Job {
  const str = (name: string) => (typeof item[name] === "string" ? (item[name] as string) : undefined);
  const num = (name: string) => (typeof item[name] === "number" ? (item[name] as number) : undefined);
  const job: Job = {
    bucket: str("bucket") ?? "",
    key: str("key") ?? "",
    etag: str("etag") ?? "",
    modified: str("modified") ?? "",
    jobId: str("jobId") ?? "",
    status: (str("status") as Job["status"]) ?? "pending",
    attempts: num("attempts") ?? 0,
    createdAt: str("createdAt") ?? "",
    updatedAt: str("updatedAt") ?? "",
  };
  const optional: Partial<Job> = {
    owner: str("owner"),
    claimToken: str("claimToken"),
    leaseVersion: num("leaseVersion"),
    leaseMs: num("leaseMs"),
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
