// The real services of a test run (started by test/support/global-setup.ts): clients, fresh
// names, buckets, and the environment a trigger process needs to reach them.
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDynamoClient } from "../../../lib/dynamo.js";
import { createS3Client, stripQuotes } from "../../../lib/s3.js";
import { DynamoJobStore } from "../../../trigger/jobs/dynamo-store.js";

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the integration project (test/support/global-setup.ts)`);
  return value;
}

/** A fresh lowercase name (valid for buckets and tables), unique across files and runs. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

export function s3Client(): S3Client {
  return createS3Client({
    endpoint: requireEnv("S3_ENDPOINT"),
    region: "us-east-1",
    accessKeyId: requireEnv("S3_AWS_ACCESS_KEY_ID"),
    secretAccessKey: requireEnv("S3_AWS_SECRET_ACCESS_KEY"),
  });
}

export function dynamoClient(): DynamoDBDocumentClient {
  return createDynamoClient({
    endpoint: requireEnv("DYNAMODB_ENDPOINT"),
    region: process.env.AWS_REGION ?? "us-east-1",
    accessKeyId: requireEnv("AWS_ACCESS_KEY_ID"),
    secretAccessKey: requireEnv("AWS_SECRET_ACCESS_KEY"),
  });
}

export function dynamoStore(table: string, client = dynamoClient()): DynamoJobStore {
  return new DynamoJobStore(client, table);
}

export async function createBuckets(s3: S3Client, ...names: string[]): Promise<void> {
  for (const name of names) await s3.send(new CreateBucketCommand({ Bucket: name }));
}

/** Uploads and returns the ETag (without quotes). */
export async function put(s3: S3Client, bucket: string, key: string, body: Buffer | string): Promise<string> {
  const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return stripQuotes(out.ETag ?? "");
}

/** Runs fn over items with at most `limit` at once. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The environment of a trigger process for this run's services: short intervals and backoffs,
 * no secrets directory (so nothing from /var/openfaas/secrets leaks in).
 */
export function triggerEnv(settings: {
  bucket: string;
  table: string;
  gatewayUrl: string;
  [name: string]: string;
}): Record<string, string> {
  const { bucket, table, gatewayUrl, ...rest } = settings;
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    S3_ENDPOINT: requireEnv("S3_ENDPOINT"),
    S3_AWS_ACCESS_KEY_ID: requireEnv("S3_AWS_ACCESS_KEY_ID"),
    S3_AWS_SECRET_ACCESS_KEY: requireEnv("S3_AWS_SECRET_ACCESS_KEY"),
    DYNAMODB_ENDPOINT: requireEnv("DYNAMODB_ENDPOINT"),
    AWS_ACCESS_KEY_ID: requireEnv("AWS_ACCESS_KEY_ID"),
    AWS_SECRET_ACCESS_KEY: requireEnv("AWS_SECRET_ACCESS_KEY"),
    AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
    SECRETS_DIR: "/nonexistent-facerec-secrets",
    INPUT_BUCKET: bucket,
    JOBS_TABLE: table,
    OPENFAAS_URL: gatewayUrl,
    TRIGGER_HOST: "127.0.0.1",
    TRIGGER_PORT: "0",
    POLL_INTERVAL_SECONDS: "1",
    INVOKE_TIMEOUT_SECONDS: "30",
    // Renewed every ~1.3 s while a call runs; a dead replica's claims are free 4 s after it died.
    CLAIM_TIMEOUT_SECONDS: "4",
    RETRY_BASE_SECONDS: "0.2",
    RETRY_MAX_SECONDS: "2",
    // About 12 s of retries: enough for a function that answers 429 while busy on a loaded machine.
    MAX_ATTEMPTS: "10",
    SHUTDOWN_TIMEOUT_SECONDS: "10",
    LOG_LEVEL: "info",
    ...rest,
  };
}
