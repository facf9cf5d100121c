// Finds the videos in the bucket: every listing page, filtered by prefix and suffix.
import type { S3Client } from "@aws-sdk/client-s3";
import { listAllObjects, type ObjectInfo } from "../lib/s3.js";
import type { KeyFilter } from "./keys.js";

export interface ListedVideo extends ObjectInfo {
  bucket: string;
}

export interface Lister {
  videos(): AsyncIterable<ListedVideo>;
}

export class S3Lister implements Lister {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly filter: KeyFilter,
  ) {}

  async *videos(): AsyncGenerator<ListedVideo> {
    for await (const object of listAllObjects(this.s3, this.bucket, this.prefix)) {
      if (this.filter(object.key)) yield { ...object, bucket: this.bucket };
    }
  }
}
