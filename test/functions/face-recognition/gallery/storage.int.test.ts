// readGallery from s3://bucket/key against the test run's real Ceph RGW, as the function reads
// GALLERY=s3://... in a cloud deployment.
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGallery } from "../../../../functions/face-recognition/gallery/storage.js";
import { putText } from "../../../../lib/s3.js";
import { testS3Client } from "../../../support/services.js";
import { sample } from "./sample.js";

const s3 = testS3Client();
const bucket = `gallery-read-${Date.now().toString(36)}`;

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await putText(s3, bucket, "dir/gallery.json", JSON.stringify(sample()), "application/json");
  const broken = { ...sample(), people: [{ name: "ada", descriptors: [[1, 2]] }] };
  await putText(s3, bucket, "broken.json", JSON.stringify(broken), "application/json");
});

afterAll(() => s3.destroy());

describe("readGallery from S3", () => {
  it("reads and validates the object at s3://bucket/key", async () => {
    expect(await readGallery(`s3://${bucket}/dir/gallery.json`, s3)).toEqual(sample());
  });

  it("names the S3 location and the place in it when the gallery is broken", async () => {
    await expect(readGallery(`s3://${bucket}/broken.json`, s3)).rejects.toThrow(
      `s3://${bucket}/broken.json: people[0].descriptors[0]: expected 128 numbers, got 2`,
    );
  });

  it("fails on a missing object rather than returning a gallery", async () => {
    await expect(readGallery(`s3://${bucket}/absent.json`, s3)).rejects.toThrow();
  });

  it("refuses an s3:// location without S3 settings", async () => {
    await expect(readGallery(`s3://${bucket}/dir/gallery.json`)).rejects.toThrow(
      `GALLERY=s3://${bucket}/dir/gallery.json needs the S3 settings`,
    );
  });
});
