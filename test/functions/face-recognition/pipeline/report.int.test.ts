// Reports in the real Ceph RGW: a key's new report replaces whatever an earlier upload under the
// same key left, success or refusal, so the output bucket never holds both for one key.
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import {
  reportStem,
  S3Sink,
  writeErrorReport,
  writeReport,
} from "../../../../functions/face-recognition/pipeline/report.js";
import { listAllObjects } from "../../../../lib/s3.js";
import { videoResult } from "../../../support/fixtures.js";
import { testS3Client } from "../../../support/services.js";

const bucket = `report-${Date.now().toString(36)}`;
const s3 = testS3Client();
const result = videoResult("a.mp4");
const keys = async () => {
  const found: string[] = [];
  for await (const o of listAllObjects(s3, bucket)) found.push(o.key);
  return found.sort();
};

describe("reports in the output bucket", () => {
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  it("keeps one outcome per key: a refusal removes the old CSV and JSON, a success the old refusal", async () => {
    const sink = new S3Sink(s3, bucket);
    await writeReport(sink, "a", result);
    expect(await keys()).toEqual(["a.csv", "a.json"]);
    await writeErrorReport(sink, "a", "a.mp4", "not a video");
    expect(await keys()).toEqual(["a.error.json"]);
    await writeReport(sink, "a", result);
    expect(await keys()).toEqual(["a.csv", "a.json"]);
  });

  it("writes a.mp4 and a.MP4 to reports of their own", async () => {
    const sink = new S3Sink(s3, bucket);
    await writeReport(sink, reportStem("b.mp4"), { ...result, video: "b.mp4" });
    await writeErrorReport(sink, reportStem("b.MP4"), "b.MP4", "refused");
    const names = (await keys()).filter((k) => k.startsWith("b"));
    expect(names).toHaveLength(3);
    expect(names).toContain("b.csv");
  });
});
