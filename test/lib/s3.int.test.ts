// The object helpers against the test run's real Ceph RGW: a listing of several pages.
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAllObjects } from "../../lib/s3.js";
import { testS3Client } from "../support/services.js";

const s3 = testS3Client();
const bucket = `lib-s3-${Date.now().toString(36)}`;
// One more than a listing page holds (1,000), plus a prefix's worth on the second page.
const keys = [...Array.from({ length: 1001 }, (_, i) => `a/${String(i).padStart(4, "0")}`), "b/one", "b/two"];

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queue = [...keys];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      }
    }),
  );
});

afterAll(() => s3.destroy());

describe("listAllObjects", () => {
  it("reads every page of a listing, each object once, with its size and unquoted ETag", async () => {
    const found = [];
    for await (const object of listAllObjects(s3, bucket)) found.push(object);
    expect(found.map((o) => o.key)).toEqual([...keys].sort());
    const last = found.at(-1);
    expect(last).toMatchObject({ key: "b/two", size: "b/two".length });
    expect(last?.etag).toMatch(/^[0-9a-f]{32}$/);
  });

  it("lists only the prefix asked for", async () => {
    const found: string[] = [];
    for await (const object of listAllObjects(s3, bucket, "b/")) found.push(object.key);
    expect(found).toEqual(["b/one", "b/two"]);
  });
});
