// The S3 client for Ceph RGW (path-style, checksums only when required: RGW rejects the SDK's
// default streaming checksums with 411) and the few object operations the project needs.
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { Agent } from "node:http";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { quietSdkNodeWarning, type S3Settings } from "./cloud.js";

export function createS3Client(
  settings: Pick<S3Settings, "endpoint" | "region" | "accessKeyId" | "secretAccessKey">,
): S3Client {
  quietSdkNodeWarning();
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Keep-alive connections are reused across videos.
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 32 }) }),
    maxAttempts: 3,
  });
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  lastModified?: Date;
}

/** Every object under a prefix, across all listing pages. */
export async function* listAllObjects(s3: S3Client, bucket: string, prefix = ""): AsyncGenerator<ObjectInfo> {
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix || undefined })) {
    for (const item of page.Contents ?? []) {
      if (item.Key === undefined) continue;
      yield {
        key: item.Key,
        size: item.Size ?? 0,
        etag: stripQuotes(item.ETag ?? ""),
        lastModified: item.LastModified,
      };
    }
  }
}

export function stripQuotes(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

export async function headObject(s3: S3Client, bucket: string, key: string): Promise<ObjectInfo> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { key, size: head.ContentLength ?? 0, etag: stripQuotes(head.ETag ?? ""), lastModified: head.LastModified };
}

/** Streams an object to a file; refuses objects larger than maxBytes before reading them. */
export async function downloadObject(
  s3: S3Client,
  bucket: string,
  key: string,
  file: string,
  maxBytes = Number.POSITIVE_INFINITY,
  ifMatch?: string,
): Promise<ObjectInfo> {
  const got = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, ...(ifMatch ? { IfMatch: `"${stripQuotes(ifMatch)}"` } : {}) }),
  );
  const size = got.ContentLength ?? 0;
  const body = got.Body as Readable | undefined;
  if (size > maxBytes) {
    body?.destroy();
    throw new ObjectTooLargeError(size, maxBytes);
  }
  if (!body) throw new Error("empty response body");
  await pipeline(body, createWriteStream(file));
  return { key, size, etag: stripQuotes(got.ETag ?? ""), lastModified: got.LastModified };
}

export class ObjectTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`the object is ${size} bytes, over the limit of ${limit} bytes`);
    this.name = "ObjectTooLargeError";
  }
}

/** An object's content as text. */
export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await got.Body?.transformToString()) ?? "";
}

/** A conditional write: only over the object with this ETag, or (null) only where there is none. */
export type WriteCondition = { replaces: string | null };

export async function putText(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string,
  contentType: string,
  condition?: WriteCondition,
): Promise<void> {
  // Ceph RGW (Pacific) compares a PUT's If-Match with the bare ETag: quoted, it never matches.
  const precondition =
    condition === undefined
      ? {}
      : condition.replaces === null
        ? { IfNoneMatch: "*" }
        : { IfMatch: stripQuotes(condition.replaces) };
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ...precondition }),
  );
}

/** The object's ETag, or undefined when there is no such object. */
export async function currentEtag(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await headObject(s3, bucket, key)).etag;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** True for a failed If-Match / If-None-Match (HTTP 412). */
export function isPreconditionFailed(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === "PreconditionFailed" || httpStatusOf(error) === 412;
}

/** Deletes an object; deleting one that does not exist is no error (S3 answers 204 either way). */
export async function deleteObject(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** True for the SDK's "no such key / bucket" answers. */
export function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === "NoSuchKey" || name === "NotFound" || name === "NoSuchBucket" || httpStatusOf(error) === 404;
}

/** The HTTP status of an SDK error (RGW's bodiless answers reach the SDK as "UnknownError"). */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
