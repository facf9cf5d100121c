// The test workers (forked processes) inherit the services started by global-setup.ts.
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { readDynamoSettings, readS3Settings } from "../../lib/cloud.js";
import { readSettings } from "../../lib/config.js";
import { createDynamoClient } from "../../lib/dynamo.js";
import { createS3Client, putText } from "../../lib/s3.js";

const services = process.env.FACEREC_TEST_SERVICES ?? "all";

describe("global setup", () => {
  it("runs this file in a forked worker", () => {
    expect(process.env.VITEST_POOL_ID).toBeDefined();
    // A child_process.fork() child has an IPC channel to its parent (vitest's main process).
    expect(typeof process.send).toBe("function");
    expect(process.env.AWS_REGION).toBe("us-east-1");
  });

  it.runIf(/all|ceph/.test(services))("exports a working Ceph S3 endpoint", async () => {
    expect(process.env.S3_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.S3_ENDPOINT).not.toBe("http://127.0.0.1:7480");
    const settings = readSettings(process.env, readS3Settings);
    const s3 = createS3Client(settings);
    try {
      const bucket = `global-setup-${process.pid}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await putText(s3, bucket, "hello.txt", "hello", "text/plain");
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "hello.txt" }));
      expect(await got.Body?.transformToString()).toBe("hello");
    } finally {
      s3.destroy();
    }
  });

  it.runIf(/all|dynamodb/.test(services))("exports a working DynamoDB endpoint", async () => {
    expect(process.env.DYNAMODB_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const db = createDynamoClient(readSettings(process.env, readDynamoSettings));
    try {
      const tables = await db.send(new ListTablesCommand({}));
      expect(tables.TableNames).toBeInstanceOf(Array);
    } finally {
      db.destroy();
    }
  });
});
