import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseInvocation } from "../../../functions/face-recognition/invocation.js";
import { requireData } from "../../support/data.js";

describe("parseInvocation", () => {
  it("accepts {bucket, key}, as text or parsed, and defaults the bucket", () => {
    expect(parseInvocation('{"bucket":"input","key":"a b.mp4"}', "input")).toEqual([
      { bucket: "input", key: "a b.mp4", maybeEncoded: false },
    ]);
    expect(parseInvocation({ key: "x.mp4" }, "input")).toEqual([
      { bucket: "input", key: "x.mp4", maybeEncoded: false },
    ]);
  });

  it("takes the ETag of the content meant, from the body or the event record, without quotes", () => {
    expect(parseInvocation({ key: "x.mp4", etag: '"0a1b-2"' }, "input")).toEqual([
      { bucket: "input", key: "x.mp4", maybeEncoded: false, etag: "0a1b-2" },
    ]);
    const record = {
      s3: { bucket: { name: "input" }, object: { key: "v.mp4", eTag: "f97c5d29941bfb1b2fdab0874906ab82" } },
    };
    expect(parseInvocation({ Records: [record] }, "input")[0]?.etag).toBe("f97c5d29941bfb1b2fdab0874906ab82");
    expect(() => parseInvocation({ key: "x.mp4", etag: 7 }, "input")).toThrow(/"etag" must be an object ETag/);
    expect(() => parseInvocation({ key: "x.mp4", etag: 'a" OR "b' }, "input")).toThrow(/"etag"/);
  });

  it("takes every record of an S3/Ceph event", () => {
    const body = { Records: [1, 2].map((n) => ({ s3: { bucket: { name: "input" }, object: { key: `v${n}.mp4` } } })) };
    expect(parseInvocation(JSON.stringify(body), "input").map((r) => r.key)).toEqual(["v1.mp4", "v2.mp4"]);
  });

  it("reads Ceph's real notification samples", () => {
    const data = requireData();
    if (!data) return;
    for (const sample of ["ceph-notification-put.json", "ceph-notification-multipart.json"]) {
      const event = JSON.parse(readFileSync(join(data, sample), "utf8"));
      const bucket = event.Records[0].s3.bucket.name as string;
      const refs = parseInvocation(event, bucket);
      expect(refs[0]?.key).toBe(event.Records[0].s3.object.key);
    }
  });

  it.each([
    ["not json", /not valid JSON/],
    ["[1,2]", /expected a JSON object/],
    ['{"bucket":"input"}', /"key" must be a non-empty string/],
    ['{"bucket":"other","key":"a.mp4"}', /bucket "other" is not the input bucket/],
    ['{"Records":[]}', /"Records" must be a non-empty array/],
    ['{"Records":[{"s3":{}}]}', /Records\[0\]\.s3\.bucket\.name is missing/],
    [JSON.stringify({ key: "k".repeat(1025) }), /longer than S3's 1024 bytes/],
  ])("refuses %s with a message that says what is wrong", (body, message) => {
    expect(() => parseInvocation(body, "input")).toThrow(message);
  });
});
