import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  decodeAwsKey,
  isObjectCreated,
  NotificationFormatError,
  normalizeEventName,
  parseNotification,
} from "../../trigger/events.js";
import { dataDir } from "../../lib/shared-data.js";

const record = (overrides: Record<string, unknown> = {}, object: Record<string, unknown> = {}) => ({
  eventSource: "ceph:s3",
  eventName: "ObjectCreated:Put",
  eventTime: "2026-11-28T18:47:30.205878Z",
  s3: { bucket: { name: "input" }, object: { key: "a.mp4", eTag: "abc", size: 10, ...object } },
  ...overrides,
});

describe("parseNotification", () => {
  const dir = dataDir();
  it.skipIf(!dir)("reads Ceph's own samples (Put and multipart)", () => {
    const read = (name: string) => JSON.parse(readFileSync(join(dir as string, name), "utf8"));
    expect(parseNotification(read("ceph-notification-put.json")).created).toEqual([
      {
        bucket: "input",
        key: "videos/b.mp4",
        etag: "cfdef0d6a2b10dd6cfad981841d881f3",
        size: 1000,
        eventName: "ObjectCreated:Put",
        eventTime: "2026-11-28T18:47:30.205878Z",
      },
    ]);
    const multipart = parseNotification(read("ceph-notification-multipart.json")).created[0];
    // Ceph does not URL-encode: the space is a space.
    expect(multipart).toMatchObject({
      key: "videos/clip 01.mp4",
      etag: "402383fca871e52538a37bfa097dee8d-3",
      eventName: "ObjectCreated:CompleteMultipartUpload",
    });
  });

  it("accepts event names with and without the s3: prefix", () => {
    const parsed = parseNotification({
      Records: [record({ eventName: "s3:ObjectCreated:Copy" }), record({ eventName: "ObjectCreated:Post" })],
    });
    expect(parsed.created.map((e) => e.eventName)).toEqual(["ObjectCreated:Copy", "ObjectCreated:Post"]);
  });

  it("keeps Ceph keys as sent, even when they look encoded", () => {
    const parsed = parseNotification({ Records: [record({}, { key: "100%25 a+b.mp4" })] });
    expect(parsed.created[0]?.key).toBe("100%25 a+b.mp4");
  });

  it("decodes AWS keys, which AWS URL-encodes", () => {
    const parsed = parseNotification({
      Records: [record({ eventSource: "aws:s3" }, { key: "videos/clip+01%C3%BC.mp4", eTag: '"q"' })],
    });
    expect(parsed.created[0]).toMatchObject({ key: "videos/clip 01ü.mp4", etag: "q" });
  });

  it("skips removals and incomplete records, with the reason", () => {
    const parsed = parseNotification({
      Records: [
        record({ eventName: "ObjectRemoved:Delete" }),
        record({ s3: { bucket: { name: "input" }, object: {} } }),
        "nonsense",
        record(),
      ],
    });
    expect(parsed.created).toHaveLength(1);
    expect(parsed.skipped.map((s) => s.reason)).toEqual([
      "not an ObjectCreated event",
      "no bucket name or object key",
      "record is not an object",
    ]);
  });

  it("leaves the ETag out when the sender gave none", () => {
    const parsed = parseNotification({ Records: [record({}, { eTag: undefined, size: undefined })] });
    expect(parsed.created[0]).not.toHaveProperty("etag");
    expect(parsed.created[0]).not.toHaveProperty("size");
  });

  it("refuses bodies that are not notifications", () => {
    for (const body of [null, [], "x", { records: [] }, { Records: {} }]) {
      expect(() => parseNotification(body)).toThrow(NotificationFormatError);
    }
    expect(parseNotification({ Records: [] }).created).toEqual([]);
  });
});

describe("event names and keys", () => {
  it("normalizes names", () => {
    expect(normalizeEventName("s3:ObjectCreated:Put")).toBe("ObjectCreated:Put");
    expect(isObjectCreated("s3:ObjectCreated:CompleteMultipartUpload")).toBe(true);
    expect(isObjectCreated("ObjectRemoved:Delete")).toBe(false);
  });

  it("decodes AWS keys, leaving invalid encodings alone", () => {
    expect(decodeAwsKey("a+b%2Bc.mp4")).toBe("a b+c.mp4");
    expect(decodeAwsKey("100%.mp4")).toBe("100%.mp4");
  });
});
